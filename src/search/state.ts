/**
 * state.json: everything a search needs to continue after Ctrl-C or kill -9, written atomically after every round.
 * Randomness is keyed, not streamed (slot choice = rngFor(seed, 'slot', search, round)), so the round counter is the
 * whole RNG state; the current prompt's validation outcome is stored so a resumed run compares candidates against
 * exactly the numbers the uninterrupted run had.
 */
import * as path from 'node:path';
import { fail, PaprecError } from '../errors.js';
import type { Placement } from '../prompts/types.js';
import { readFileOrFail, writeFileAtomic } from '../util/fs.js';
import type { SearchOptions } from './options.js';

export const STATE_FILE = 'state.json';
export const HISTORY_FILE = 'history.jsonl';
const STATE_VERSION = 1;

/** One search of a run: a prompt shape (length, placement, with or without [T_u]). */
export interface VariantSpec {
  name: string;
  length: number;
  personalized: boolean;
  placement: Placement;
}

export interface PromptTokens {
  taskTokens: number[];
  userTokens?: number[];
}

export interface CurvePoint {
  epoch: number;
  score: number;
  best: number;
}

export interface VariantState {
  spec: VariantSpec;
  status: 'pending' | 'running' | 'done';
  stopReason?: 'converged' | 'max-epochs';
  /** Epochs completed (a task round or a user epoch each). */
  epoch: number;
  /** Task rounds completed: the key of the next slot draw. */
  round: number;
  /** Accepted changes so far: the key of cached gradients and of the gradient sample. */
  version: number;
  /** Task slots that failed since the last accepted change. */
  tried: number[];
  nextPhase: 'task' | 'user';
  /** Whether the last user epoch changed any user token; null before the first. */
  userEpochChanged: boolean | null;
  current: PromptTokens;
  currentScore: number | null;
  currentOutcome: { kind: string; values: unknown[] } | null;
  best: PromptTokens;
  bestScore: number | null;
  bestEpoch: number;
  startScore: number | null;
  curve: CurvePoint[];
}

export interface RunInputs {
  data: string;
  model: string;
  tokenizer: string;
}

export interface RunState {
  version: typeof STATE_VERSION;
  inputs: RunInputs;
  options: SearchOptions;
  variants: VariantState[];
  /** Committed lines of history.jsonl. */
  historyLength: number;
  phase: 'search' | 'test' | 'done';
}

export function statePath(outDir: string): string {
  return path.join(outDir, STATE_FILE);
}

export async function saveState(outDir: string, state: RunState): Promise<void> {
  await writeFileAtomic(statePath(outDir), `${JSON.stringify(state)}\n`);
}

export async function loadState(outDir: string): Promise<RunState> {
  const file = statePath(outDir);
  const text = (await readFileOrFail(file, 'search state (is this a `paprec search` output folder?)')).toString('utf8');
  let state: RunState;
  try {
    state = JSON.parse(text) as RunState;
  } catch (err) {
    throw new PaprecError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (state.version !== STATE_VERSION) fail(file, `state version ${String(state.version)}, this paprec reads ${STATE_VERSION}`);
  if (!Array.isArray(state.variants) || typeof state.historyLength !== 'number') fail(file, 'missing variants / historyLength');
  return state;
}

export function initialVariantState(spec: VariantSpec, initial: PromptTokens): VariantState {
  return {
    spec,
    status: 'pending',
    epoch: 0,
    round: 0,
    version: 0,
    tried: [],
    nextPhase: 'task',
    userEpochChanged: null,
    current: initial,
    currentScore: null,
    currentOutcome: null,
    best: initial,
    bestScore: null,
    bestEpoch: 0,
    startScore: null,
    curve: [],
  };
}

/** The searches a run makes: every length x placement without [T_u], plus the personalized one(s). */
export function variantSpecs(opts: Pick<SearchOptions, 'lengths' | 'personalized' | 'placements'>): VariantSpec[] {
  const out: VariantSpec[] = [];
  const multiPlacement = opts.placements.length > 1;
  for (const placement of opts.placements) {
    for (const length of opts.lengths) {
      out.push({ name: `np-l${length}${multiPlacement ? `-${placement}` : ''}`, length, personalized: false, placement });
    }
    if (opts.personalized) {
      // Personalized: one length (the given one when it is single, else the paper's 5) plus [T_u].
      const length = opts.lengths.length === 1 ? opts.lengths[0]! : 5;
      out.push({ name: `p-l${length}${multiPlacement ? `-${placement}` : ''}`, length, personalized: true, placement });
    }
  }
  return out;
}
