/**
 * `pretrain`: train a P5 backbone on a P5 data folder, the way P5 was trained (multi-task, seen prompts only).
 *
 * Output folder:
 *   config.json, model.safetensors, tokenizer.json  the BEST epoch by validation (HR@5 + NDCG@5 when a ranker is
 *                                                    given, then validation loss): what `Backbone.load(out)` reads
 *   train_log.jsonl                                  one JSON line per event (start, epoch, stop, non-finite loss)
 *   train_state/                                     the LAST state (weights, AdamW moments, epoch / batch / step),
 *                                                    written atomically after every epoch and on stop; `resume`
 *                                                    continues from it and reproduces an uninterrupted run on CPU
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PaprecError, fail } from '../errors.js';
import { Backbone, resolveDtype } from '../backbone/backbone.js';
import { loadCheckpoint, PRESETS, resolveConfig, type LoadedCheckpoint, type P5Config } from '../checkpoint/index.js';
import { loadDataset } from '../data/dataset.js';
import { MAX_HISTORY } from '../data/splits.js';
import { SegmentEncoder } from '../prompts/segmentEncoder.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Dataset, RaggedRows, Task, Tokenizer } from '../types.js';
import { SURROGATE_BEAMS } from '../protocol/decoding.js';
import { appendFileSynced, ensureDir, exists, removeStaleTemps } from '../util/fs.js';
import { userEntries } from '../util/lock.js';
import { epochExamples, packTrainData, PRETRAIN_TASKS, type PretrainTask } from './data.js';
import { hasTrainState, identityMismatch, loadTrainState, OPTIMIZERS, saveTrainState, stateDir, type Optimizer, type RunIdentity } from './state.js';
import { BackboneTrainer, type TrainProgress } from './trainer.js';
import { beamRanker } from './ranker.js';
import type { ProcessGroup } from '../dist/group.js';
import { isRoot, rankDeviceOf } from '../dist/roles.js';
import { isBetter, KEEP_BEST_BY, validate, validationSet, type KeepBestBy, type Ranker, type Validation } from './validate.js';

export interface PretrainOptions {
  data: string;
  tokenizer: string;
  /**
   * A preset (p5-tiny, p5-mini, p5-small, p5-base: vocabulary taken from the tokenizer), a config.json path or an
   * object. Optional with `init`, whose config it must then match.
   */
  config?: string | Record<string, unknown>;
  /**
   * Start from this backbone's weights (a folder `pretrain` wrote, or any checkpoint `Backbone.load` reads) instead
   * of T5's random initialisation: a second stage of a curriculum. The optimizer starts fresh.
   */
  init?: string;
  /** Dropout rate for training, replacing the config's (T5's default is 0.1). Saved in the output config. */
  dropout?: number;
  /** P5's whole-word embeddings on or off, replacing the config's. Saved in the output config. */
  wholeWordEmbeddings?: boolean;
  out: string;
  epochs: number;
  batchSize: number;
  lr: number;
  /** P5's tasks and the synthetic `successor` (default sequential, matching). */
  tasks?: PretrainTask[];
  maxUsers?: number;
  device?: string;
  /** fp32 (default); bf16: autocast over fp32 weights (CUDA, or a CPU with AMX / AVX512-BF16); auto: bf16 where native. */
  dtype?: 'fp32' | 'bf16' | 'auto';
  /** Seeds the initial weights, the epochs' examples, the batch order and dropout (default 1). */
  seed?: number;
  overwrite?: boolean;
  resume?: boolean;
  /** Warm-up as a fraction of all steps (default 0.05, P5's). */
  warmupRatio?: number;
  weightDecay?: number;
  clipNorm?: number;
  /** `adamw` (default) or `adamw-scale` (nanoT5's: steps relative to each tensor's RMS; wants a larger lr, ~1e-2). */
  optimizer?: Optimizer;
  /** Sequential training windows per user per epoch (default 1). */
  sequentialPerUser?: number;
  /** Most recent items kept in a training window's history (default 20, evaluation's). */
  trainHistory?: number;
  /** Matching training examples per user per epoch (default 1). */
  matchingPerUser?: number;
  /** Candidates in a training matching list, target included (default: all, 100; evaluation always lists all). */
  matchingCandidates?: number;
  /** What picks the kept epoch: `surrogate` (HR@5 + NDCG@5, ties by loss; the default) or `loss`. */
  keepBestBy?: KeepBestBy;
  /** Users in the validation sample (default 1000). */
  validationUsers?: number;
  /** Beams for validation HR@5 / NDCG@5 (default 5, the surrogate's; 0 measures the loss only). */
  validationBeams?: number;
  /** Another ranker for validation (default: beam search on the evaluation engine). */
  ranker?: Ranker;
  /** Stop after the current step (Ctrl-C): the state is saved and `resume` continues exactly. */
  signal?: AbortSignal;
  /** Test hook: poison the loss of this global step. */
  nanAtStep?: number;
  /** Data-parallel over the group's ranks (src/dist): gradients summed per step; rank 0 alone writes `out`. */
  group?: ProcessGroup;
}

export type PretrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; examplesPerEpoch: number; stepsPerEpoch: number; totalSteps: number; parameters: number; device: string; dtype: string }
  | { type: 'step'; epoch: number; progress: TrainProgress }
  | { type: 'epoch'; epoch: number; trainLoss: number; validation: Validation; best: boolean; seconds: number; examplesPerSecond: number }
  | { type: 'stopped'; epoch: number; batch: number; step: number };

export interface PretrainResult {
  outDir: string;
  completed: boolean;
  epochsRun: number;
  best: { epoch: number; validation: Validation } | null;
  history: Array<{ epoch: number; trainLoss: number; validation: Validation; seconds: number; examplesPerSecond: number }>;
}

const OUTPUTS = ['config.json', 'model.safetensors', 'README.md', 'tokenizer.json', 'train_log.jsonl'];

function positiveInt(v: number | undefined, what: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) fail('pretrain', `${what} must be a positive integer, got ${v}`);
}

/**
 * Preset: its shapes with the tokenizer's vocabulary. A config file or object: every tokenizer id needs a row (more
 * rows are accepted, as T5 v1.1's 32,128 rows for 32,100 pieces; no example ever uses them). `overrides` (the
 * command's --dropout, --no-whole-word) replace the config's fields.
 */
export function pretrainConfig(
  config: string | Record<string, unknown>,
  vocabSize: number,
  tokenizerFile: string,
  overrides: Partial<P5Config> = {},
): P5Config {
  if (typeof config === 'string' && PRESETS[config]) return resolveConfig(config, { vocabSize, ...overrides });
  const c = resolveConfig(config, overrides);
  if (c.vocabSize < vocabSize) {
    fail(typeof config === 'string' ? config : 'config', `vocab_size ${c.vocabSize} is smaller than the tokenizer ${tokenizerFile} (${vocabSize} tokens)`);
  }
  return c;
}

async function prepareOutDir(out: string, overwrite: boolean, resume: boolean): Promise<void> {
  if (resume) {
    if (!hasTrainState(out)) fail(out, `nothing to resume: no ${path.join('train_state', 'state.json')} (run without --resume first)`);
    await removeStaleTemps(out); // a model save killed mid-write (kill -9) left its temporary file
    return;
  }
  if (exists(out)) {
    const entries = await userEntries(out).catch(() => fail(out, 'output path exists and is not a folder'));
    if (entries.length > 0 && !overwrite) fail(out, 'output folder exists and is not empty; pass --overwrite to replace it, or --resume to continue it');
    for (const f of OUTPUTS) await fsp.rm(path.join(out, f), { force: true });
    await fsp.rm(stateDir(out), { recursive: true, force: true });
  }
  await ensureDir(out);
}

/** Every option that needs no file, checked before any work; the tasks, deduplicated. */
function checkOptions(opts: PretrainOptions): PretrainTask[] {
  positiveInt(opts.epochs, 'epochs');
  positiveInt(opts.batchSize, 'batch size');
  positiveInt(opts.maxUsers, 'max users');
  if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) fail('pretrain', `learning rate must be a positive number, got ${opts.lr}`);
  positiveInt(opts.trainHistory, 'train history');
  positiveInt(opts.matchingPerUser, 'matching examples per user');
  if (opts.matchingCandidates !== undefined && (!Number.isInteger(opts.matchingCandidates) || opts.matchingCandidates < 2)) {
    fail('pretrain', `matching candidates must be an integer >= 2, got ${opts.matchingCandidates}`);
  }
  if (opts.keepBestBy !== undefined && !KEEP_BEST_BY.includes(opts.keepBestBy))
    fail('pretrain', `unknown --keep-best-by "${String(opts.keepBestBy)}"; known: ${KEEP_BEST_BY.join(', ')}`);
  if (opts.optimizer !== undefined && !OPTIMIZERS.includes(opts.optimizer))
    fail('pretrain', `unknown optimizer "${String(opts.optimizer)}"; known: ${OPTIMIZERS.join(', ')}`);
  if (opts.dropout !== undefined && !(opts.dropout >= 0 && opts.dropout < 1)) fail('pretrain', `dropout must be in [0, 1), got ${opts.dropout}`);
  if (opts.overwrite && opts.resume) fail('pretrain', '--overwrite and --resume exclude each other');
  if (opts.config === undefined && opts.init === undefined) fail('pretrain', 'give a model config (a preset or config.json) or --init');
  const tasks: PretrainTask[] = [...new Set<PretrainTask>(opts.tasks ?? ['sequential', 'matching'])];
  for (const t of tasks) if (!PRETRAIN_TASKS.includes(t)) fail('pretrain', `unknown task "${t}"; known: ${PRETRAIN_TASKS.join(', ')}`);
  return tasks;
}

/** What a run reads and decides before its first step. */
interface Run {
  opts: PretrainOptions;
  tokenizer: Tokenizer;
  dataset: Dataset;
  identity: RunIdentity;
  /** The starting weights (`init`), undefined for T5's random initialisation. */
  initial?: LoadedCheckpoint;
  /** The training rows of an epoch (epochs draw their own windows). */
  epochData: (epoch: number) => RaggedRows;
  examplesPerEpoch: number;
  stepsPerEpoch: number;
}

/**
 * The run's model config, and the starting weights with `init`: its config with the run's overrides, which must
 * agree with `config` when both are given (same shapes and family; dropout may differ).
 */
async function modelOf(opts: PretrainOptions, tokenizer: Tokenizer): Promise<{ config: P5Config; initial?: LoadedCheckpoint }> {
  const overrides: Partial<P5Config> = {
    ...(opts.dropout !== undefined ? { dropoutRate: opts.dropout } : {}),
    ...(opts.wholeWordEmbeddings !== undefined ? { wholeWordEmbeddings: opts.wholeWordEmbeddings } : {}),
  };
  if (opts.init === undefined) return { config: pretrainConfig(opts.config!, tokenizer.vocabSize, opts.tokenizer, overrides) };
  const initial = await loadCheckpoint(opts.init);
  const config = pretrainConfig({ ...initial.config, ...overrides }, tokenizer.vocabSize, opts.tokenizer);
  if (opts.config !== undefined) {
    const given = pretrainConfig(opts.config, tokenizer.vocabSize, opts.tokenizer, overrides);
    const differ = (Object.keys(given) as (keyof P5Config)[]).filter((k) => k !== 'dropoutRate' && JSON.stringify(given[k]) !== JSON.stringify(config[k]));
    if (differ.length > 0) {
      fail(opts.init, `--init's model differs from --config in ${differ.map((k) => `${k} (${JSON.stringify(config[k])} vs ${JSON.stringify(given[k])})`).join(', ')}; leave out --config to train the --init model as it is`);
    }
  }
  return { config, initial };
}

async function prepareRun(opts: PretrainOptions, tasks: PretrainTask[]): Promise<Run> {
  const seed = opts.seed ?? 1;
  const tokenizer = await loadTokenizer(opts.tokenizer);
  const { config, initial } = await modelOf(opts, tokenizer);
  const dataset = await loadDataset(opts.data, opts.maxUsers !== undefined ? { maxUsers: opts.maxUsers } : {});
  if (tasks.includes('explanation') && !dataset.reviews) fail(opts.data, 'task explanation needs exp_splits.pkl in the data folder');
  if (isRoot(opts)) await prepareOutDir(opts.out, opts.overwrite ?? false, opts.resume ?? false);

  const encoder = new SegmentEncoder(tokenizer);
  const sequentialPerUser = opts.sequentialPerUser ?? 1;
  const trainHistory = opts.trainHistory ?? MAX_HISTORY;
  const matchingPerUser = opts.matchingPerUser ?? 1;
  const matchingCandidates = opts.matchingCandidates ?? null; // null: the full list
  const pack = (epoch: number) =>
    packTrainData(
      epochExamples(dataset, { tasks, epoch, seed, sequentialPerUser, trainHistory, matchingPerUser, ...(matchingCandidates !== null ? { matchingCandidates } : {}) }),
      tokenizer,
      encoder,
    );
  const first = pack(0);
  const epochData = (epoch: number) => (epoch === 0 ? first : pack(epoch));
  const examplesPerEpoch = first.inputOffsets.length - 1;
  const stepsPerEpoch = Math.ceil(examplesPerEpoch / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const identity: RunIdentity = {
    config,
    tasks,
    init: opts.init !== undefined ? path.resolve(opts.init) : null,
    seed,
    batchSize: opts.batchSize,
    lr: opts.lr,
    epochs: opts.epochs,
    maxUsers: opts.maxUsers ?? null,
    sequentialPerUser,
    trainHistory,
    matchingPerUser,
    matchingCandidates,
    keepBestBy: opts.keepBestBy ?? 'surrogate',
    weightDecay: opts.weightDecay ?? 0.01,
    clipNorm: opts.clipNorm ?? 1.0,
    optimizer: opts.optimizer ?? 'adamw',
    warmupSteps: Math.round((opts.warmupRatio ?? 0.05) * totalSteps),
    totalSteps,
  };
  return { opts, tokenizer, dataset, identity, ...(initial ? { initial } : {}), epochData, examplesPerEpoch, stepsPerEpoch };
}

/** Where training starts: epoch 0, or the saved state of the same run (refused when the options differ). */
interface Start {
  epoch: number;
  batch: number;
  best: { epoch: number; validation: Validation } | null;
}

async function resumeState(run: Run, backbone: Backbone, trainer: BackboneTrainer): Promise<Start> {
  if (!run.opts.resume) {
    if (run.initial) backbone.setTensors(run.initial.tensors, run.initial.source);
    return { epoch: 0, batch: 0, best: null };
  }
  const saved = await loadTrainState(run.opts.out);
  const where = path.join(stateDir(run.opts.out), 'state.json');
  const diff = identityMismatch(saved.state.identity, run.identity);
  if (diff) fail(where, `this state belongs to another run (${diff}); resume with the same options or start a new folder`);
  backbone.setTensors(saved.weights);
  trainer.setState(saved.optimizer, where);
  return { epoch: saved.state.epoch, batch: saved.state.batch, best: saved.state.best };
}

function nonFiniteError(run: Run, epoch: number, step: number | undefined, start: Start, best: Start['best']): PaprecError {
  const out = run.opts.out;
  return new PaprecError(
    `pretrain: the loss became NaN or infinite at step ${step} (epoch ${epoch + 1}); training stopped. ` +
      `${best ? `The best model so far (epoch ${best.epoch + 1}) is in ${out}` : `No epoch finished, so ${out} holds no model`}` +
      `${epoch > 0 || start.epoch > 0 ? `, and train_state/ holds the last good epoch` : ''}. Lower the learning rate (--lr) and start again.`,
  );
}

/** The epochs from `start` on: train, validate, keep the best, save the state after each. */
async function trainEpochs(run: Run, backbone: Backbone, trainer: BackboneTrainer, start: Start, onEvent: (e: PretrainEvent) => void, log: (r: Record<string, unknown>) => Promise<void>): Promise<PretrainResult> {
  const { opts, identity, tokenizer } = run;
  let best = start.best;
  const valSet = validationSet(run.dataset, tokenizer, Math.min(opts.validationUsers ?? 1000, run.dataset.users.length));
  const evalBatch = Math.max(opts.batchSize, 64);
  const beams = opts.validationBeams ?? SURROGATE_BEAMS;
  const ranker = opts.ranker ?? beamRanker;
  const history: PretrainResult['history'] = [];
  const saveState = async (epoch: number, batch: number) =>
    isRoot(opts) && saveTrainState(opts.out, { identity, epoch, batch, step: trainer.step, best }, await backbone.tensors(), await trainer.state());
  for (let epoch = start.epoch; epoch < opts.epochs; epoch++) {
    const started = Date.now();
    const r = await trainer.runEpoch(
      trainer.upload(run.epochData(epoch)),
      { epoch, batchSize: opts.batchSize, startBatch: epoch === start.epoch ? start.batch : 0, ...(opts.nanAtStep !== undefined ? { nanAtStep: opts.nanAtStep } : {}) },
      (progress) => onEvent({ type: 'step', epoch, progress }),
    );
    if (r.nonFinite) {
      await log({ event: 'non-finite-loss', epoch, step: r.nonFiniteStep });
      throw nonFiniteError(run, epoch, r.nonFiniteStep, start, best);
    }
    if (r.stopped) {
      await saveState(epoch, r.batch);
      await log({ event: 'stopped', epoch, batch: r.batch, step: r.step });
      onEvent({ type: 'stopped', epoch, batch: r.batch, step: r.step });
      return { outDir: opts.out, completed: false, epochsRun: epoch - start.epoch, best, history };
    }
    const validation = await validate(trainer, valSet, { batchSize: evalBatch, ...(beams > 0 ? { ranker, beams } : {}), ...(opts.group ? { group: opts.group } : {}) });
    const seconds = (Date.now() - started) / 1000;
    const improved = isBetter(validation, best?.validation, identity.keepBestBy);
    if (improved) {
      best = { epoch, validation };
      if (isRoot(opts)) await backbone.save(opts.out, { extraFiles: { 'tokenizer.json': tokenizer.toJSON() } });
    }
    const entry = { epoch, trainLoss: r.meanLoss, validation, seconds, examplesPerSecond: r.examplesPerSecond };
    history.push(entry);
    await log({ event: 'epoch', ...entry, step: r.step, lr: r.lr, best: improved });
    await saveState(epoch + 1, 0);
    onEvent({ type: 'epoch', epoch, trainLoss: r.meanLoss, validation, best: improved, seconds, examplesPerSecond: r.examplesPerSecond });
  }
  return { outDir: opts.out, completed: true, epochsRun: opts.epochs - start.epoch, best, history };
}

export async function pretrain(opts: PretrainOptions, onEvent: (e: PretrainEvent) => void = () => {}): Promise<PretrainResult> {
  const run = await prepareRun(opts, checkOptions(opts));
  const { identity } = run;
  const backbone = await Backbone.create(identity.config, { device: rankDeviceOf(opts), seed: identity.seed });
  const logFile = path.join(opts.out, 'train_log.jsonl');
  const log = async (record: Record<string, unknown>) => {
    if (isRoot(opts)) await appendFileSynced(logFile, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  try {
    const dtype = resolveDtype(opts.dtype ?? 'fp32', backbone.device);
    const trainer = new BackboneTrainer(backbone, {
      lr: opts.lr,
      weightDecay: identity.weightDecay,
      clipNorm: identity.clipNorm,
      rmsScaled: identity.optimizer === 'adamw-scale',
      warmupSteps: identity.warmupSteps,
      totalSteps: identity.totalSteps,
      seed: identity.seed,
      bf16: dtype === 'bf16',
      ...(opts.group ? { group: opts.group.native } : {}),
    });
    const start = await resumeState(run, backbone, trainer);
    const parameters = backbone.native.shapes().reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    onEvent({ type: 'start', epochs: opts.epochs, startEpoch: start.epoch, examplesPerEpoch: run.examplesPerEpoch, stepsPerEpoch: run.stepsPerEpoch, totalSteps: identity.totalSteps, parameters, device: backbone.device, dtype });
    await log({ event: opts.resume ? 'resume' : 'start', epoch: start.epoch, batch: start.batch, identity, examplesPerEpoch: run.examplesPerEpoch, parameters });
    const onAbort = () => trainer.stop();
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) trainer.stop();
    try {
      return await trainEpochs(run, backbone, trainer, start, onEvent, log);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    await backbone.dispose();
  }
}
