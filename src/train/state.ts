/**
 * The resume state of `paprec pretrain`, in `<out>/train_state/`: the weights and the AdamW moments (safetensors)
 * plus `state.json` (epoch, batch inside the epoch, optimizer step, the run's options, the best validation so far).
 * Randomness is keyed on (seed, epoch, step), so these numbers are the whole RNG state.
 *
 * Atomic commit: the tensor files get fresh names, then state.json (written atomically) points at them, then the
 * previous files are removed. A crash at any moment leaves a state.json whose files exist.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors.js';
import { readSafetensors, encodeSafetensors, type P5Config, type Tensor } from '../checkpoint/index.js';
import { ensureDir, exists, readTextOrFail, removeStaleTemps, writeFileAtomic } from '../util/fs.js';
import { MAX_HISTORY } from '../data/splits.js';
import { arrayOf, count, int, nullable, num, object, oneOf, str, validate, type Check } from '../util/schema.js';
import type { OptimizerState } from './trainer.js';
import type { KeepBestBy } from './validate.js';

export const STATE_DIR = 'train_state';

/** `adamw`: plain AdamW. `adamw-scale`: nanoT5's AdamW whose step is relative to each tensor's RMS. */
export type Optimizer = 'adamw' | 'adamw-scale';
export const OPTIMIZERS: readonly Optimizer[] = ['adamw', 'adamw-scale'];
export const STATE_FILE = 'state.json';

/** What must match for a run to continue another: the model and everything that shapes the data and the steps. */
export interface RunIdentity {
  config: P5Config;
  tasks: string[];
  /** The backbone the run started from (`--init`, an absolute path), null for T5's random initialisation. */
  init?: string | null;
  seed: number;
  batchSize: number;
  lr: number;
  epochs: number;
  maxUsers: number | null;
  sequentialPerUser: number;
  trainHistory: number;
  /** Matching training examples per user per epoch. */
  matchingPerUser?: number;
  /** Candidates in a training matching list; null = the full list. */
  matchingCandidates?: number | null;
  keepBestBy: KeepBestBy;
  weightDecay: number;
  clipNorm: number;
  optimizer: Optimizer;
  warmupSteps: number;
  totalSteps: number;
}

export interface TrainState {
  version: 1;
  identity: RunIdentity;
  /** The epoch to run next (0-based) and the batch inside it to start from. */
  epoch: number;
  batch: number;
  step: number;
  /** The best validation so far (its weights are the model files of the output folder). */
  best: { epoch: number; validation: { loss: number; hr5?: number; ndcg5?: number; surrogate?: number } } | null;
  weightsFile: string;
  optimizerFile: string;
}

export function stateDir(outDir: string): string {
  return path.join(outDir, STATE_DIR);
}

export async function saveTrainState(
  outDir: string,
  s: Omit<TrainState, 'version' | 'weightsFile' | 'optimizerFile'>,
  weights: Map<string, Tensor>,
  optimizer: OptimizerState,
): Promise<void> {
  const dir = stateDir(outDir);
  await ensureDir(dir);
  const tag = `e${s.epoch}-b${s.batch}-s${s.step}`;
  const weightsFile = `weights-${tag}.safetensors`;
  const optimizerFile = `optimizer-${tag}.safetensors`;
  await writeFileAtomic(path.join(dir, weightsFile), encodeSafetensors(weights));
  const moments: [string, Tensor][] = [];
  for (const [n, t] of optimizer.expAvg) moments.push([`exp_avg.${n}`, t]);
  for (const [n, t] of optimizer.expAvgSq) moments.push([`exp_avg_sq.${n}`, t]);
  await writeFileAtomic(path.join(dir, optimizerFile), encodeSafetensors(moments, { step: String(optimizer.step) }));
  const state: TrainState = { version: 1, ...s, weightsFile, optimizerFile };
  await writeFileAtomic(path.join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  for (const f of await fsp.readdir(dir)) {
    if (f !== STATE_FILE && f !== weightsFile && f !== optimizerFile) await fsp.rm(path.join(dir, f), { force: true });
  }
}

export function hasTrainState(outDir: string): boolean {
  return exists(path.join(stateDir(outDir), STATE_FILE));
}

export interface LoadedTrainState {
  state: TrainState;
  weights: Map<string, Tensor>;
  optimizer: OptimizerState;
}

const VALIDATION: Check = object({ loss: num, 'hr5?': num, 'ndcg5?': num, 'surrogate?': num });
const TRAIN_STATE_SCHEMA: Check = object({
  version: oneOf(1),
  identity: object({
    config: object({ vocabSize: count, dModel: count }),
    tasks: arrayOf(str),
    'init?': nullable(str),
    seed: int,
    batchSize: count,
    lr: num,
    epochs: count,
    maxUsers: nullable(count),
    sequentialPerUser: count,
    'trainHistory?': count,
    'matchingPerUser?': count,
    'matchingCandidates?': nullable(count),
    'keepBestBy?': str,
    weightDecay: num,
    clipNorm: num,
    'optimizer?': oneOf(...OPTIMIZERS),
    warmupSteps: count,
    totalSteps: count,
  }),
  epoch: count,
  batch: count,
  step: count,
  best: nullable(object({ epoch: count, validation: VALIDATION })),
  weightsFile: str,
  optimizerFile: str,
});

export async function loadTrainState(outDir: string): Promise<LoadedTrainState> {
  const dir = stateDir(outDir);
  const file = path.join(dir, STATE_FILE);
  const text = await readTextOrFail(file, 'training state (from an earlier `paprec pretrain` run)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(file, `not valid JSON (${(err as Error).message}); the training state is damaged`);
  }
  const state = validate<TrainState>(raw, TRAIN_STATE_SCHEMA, file, ' (not a paprec training state, or a damaged one)');
  for (const f of [state.weightsFile, state.optimizerFile]) {
    if (path.basename(f) !== f || !f.endsWith('.safetensors')) fail(file, `${JSON.stringify(f)} must be a .safetensors file name inside ${STATE_DIR}/`);
  }
  await removeStaleTemps(dir);
  const weights = await readSafetensors(path.join(dir, state.weightsFile));
  const moments = await readSafetensors(path.join(dir, state.optimizerFile));
  const expAvg = new Map<string, Tensor>();
  const expAvgSq = new Map<string, Tensor>();
  for (const [name, t] of moments) {
    const plain = { shape: t.shape, data: t.data };
    if (name.startsWith('exp_avg_sq.')) expAvgSq.set(name.slice('exp_avg_sq.'.length), plain);
    else if (name.startsWith('exp_avg.')) expAvg.set(name.slice('exp_avg.'.length), plain);
    else fail(path.join(dir, state.optimizerFile), `unexpected tensor ${name}`);
  }
  const w = new Map<string, Tensor>();
  for (const [n, t] of weights) w.set(n, { shape: t.shape, data: t.data });
  return { state, weights: w, optimizer: { step: state.step, expAvg, expAvgSq } };
}

/** The first field where a saved run differs from this one, as a message; undefined when they match. */
export function identityMismatch(saved: RunIdentity, now: RunIdentity): string | undefined {
  // States saved before the T5 v1.1 fields existed hold a v1.0 model.
  const a: Record<string, unknown> = { feedForwardProj: 'relu', tieWordEmbeddings: true, ...(saved.config as unknown as Record<string, unknown>) };
  const b = now.config as unknown as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `model config ${k}: saved ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}`;
  }
  const sa: Record<string, unknown> = { ...saved };
  sa['optimizer'] ??= 'adamw'; // states saved before these options existed
  sa['trainHistory'] ??= MAX_HISTORY;
  sa['keepBestBy'] ??= 'surrogate';
  sa['init'] ??= null;
  sa['matchingPerUser'] ??= 1;
  sa['matchingCandidates'] ??= null;
  const nb = now as unknown as Record<string, unknown>;
  for (const k of Object.keys(nb)) {
    if (k === 'config') continue;
    if (JSON.stringify(sa[k]) !== JSON.stringify(nb[k])) return `${k}: saved ${JSON.stringify(sa[k])}, now ${JSON.stringify(nb[k])}`;
  }
  return undefined;
}
