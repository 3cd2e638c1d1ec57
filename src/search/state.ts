/**
 * state.json: everything a search needs to continue after Ctrl-C or kill -9, written atomically after every round.
 * Randomness is keyed, not streamed (slot choice = rngFor(seed, 'slot', search, round)), so the round counter is the
 * whole RNG state; the current prompt's validation outcome is stored so a resumed run compares candidates against
 * exactly the numbers the uninterrupted run had.
 */
import * as path from 'node:path';
import { fail, PaprecError } from '../errors.js';
import type { Placement } from '../prompts/types.js';
import { TASKS } from '../types.js';
import { readTextOrFail, writeFileAtomic } from '../util/fs.js';
import { any, arrayOf, bool, count, int, nullable, num, object, oneOf, str, validate, type Check } from '../util/schema.js';
import { resolveSearchOptions, type SearchOptions, type SearchOptionsInput } from './options.js';

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
  const text = await readTextOrFail(file, 'search state (is this a `paprec search` output folder?)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PaprecError(`${file}: not valid JSON (${(err as Error).message}); the folder's search state is damaged`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== STATE_VERSION) fail(file, `state version ${JSON.stringify(version)}, this paprec reads ${STATE_VERSION}`);
  const state = validate<RunState>(raw, RUN_STATE_SCHEMA, file, ' (the search state is damaged or was edited)');
  state.variants.forEach((v, i) => {
    const bad = [...v.current.taskTokens, ...v.best.taskTokens].find((t) => t < 0);
    if (v.current.taskTokens.length !== v.spec.length || v.best.taskTokens.length !== v.spec.length) {
      fail(file, `variants[${i}]: ${v.spec.length} task tokens expected (spec.length), found ${v.current.taskTokens.length} / ${v.best.taskTokens.length}`);
    }
    if (bad !== undefined) fail(file, `variants[${i}]: token id ${bad} is negative`);
  });
  return state;
}

const tokens = arrayOf(count);
const PROMPT_TOKENS: Check = object({ taskTokens: tokens, 'userTokens?': tokens });
const VARIANT_SCHEMA: Check = object({
  spec: object({ name: str, length: count, personalized: bool, placement: oneOf('suffix', 'prefix') }),
  status: oneOf('pending', 'running', 'done'),
  'stopReason?': oneOf('converged', 'max-epochs'),
  epoch: count,
  round: count,
  version: count,
  tried: arrayOf(count),
  nextPhase: oneOf('task', 'user'),
  userEpochChanged: nullable(bool),
  current: PROMPT_TOKENS,
  currentScore: nullable(num),
  currentOutcome: nullable(object({ kind: str, values: arrayOf(any) })),
  best: PROMPT_TOKENS,
  bestScore: nullable(num),
  bestEpoch: count,
  startScore: nullable(num),
  curve: arrayOf(object({ epoch: count, score: num, best: num })),
});
const OPTIONS_SCHEMA: Check = object({
  task: oneOf(...TASKS),
  lengths: arrayOf(count),
  sweep: bool,
  personalized: bool,
  placements: arrayOf(oneOf('suffix', 'prefix')),
  userPosition: oneOf('end', 'start'),
  k: count,
  'pool?': count,
  'poolRows?': count,
  'userAccept?': oneOf('last-train'),
  alphaSeq: num,
  alphaExp: num,
  beams: count,
  criterion: oneOf('surrogate', 'loss', 'full'),
  epochs: count,
  seed: int,
  'maxUsers?': count,
  device: str,
  'dtype?': oneOf('fp32', 'bf16', 'auto'),
  'streams?': count,
  'gradientSample?': count,
  runs: count,
  'testBeams?': count,
  maxLength: count,
});
const RUN_STATE_SCHEMA: Check = object({
  version: oneOf(STATE_VERSION),
  inputs: object({ data: str, model: str, tokenizer: str }),
  options: OPTIONS_SCHEMA,
  variants: arrayOf(VARIANT_SCHEMA),
  historyLength: count,
  phase: oneOf('search', 'test', 'done'),
});

/** The flags of `paprec search` by option field, for messages. */
const FLAG_OF: Record<string, string> = {
  task: '--task', length: '--length', personalized: '--personalized', placement: '--placement', userPosition: '--user-position',
  k: '--k', pool: '--pool', poolRows: '--pool-rows', userAccept: '--user-accept', alphaSeq: '--alpha-seq', alphaExp: '--alpha-exp', beams: '--beams', criterion: '--criterion', epochs: '--epochs',
  seed: '--seed', maxUsers: '--max-users', gradientSample: '--gradient-sample', runs: '--runs', testBeams: '--test-beams', maxLength: '--max-length',
};
/** The resolved fields each given option decides. */
const FIELDS_OF: Record<string, (keyof SearchOptions)[]> = {
  length: ['lengths', 'sweep'], placement: ['placements'],
};

/** Saved options as the input that reproduces them (for re-resolving with the options given on --resume). */
function asInput(o: SearchOptions): SearchOptionsInput {
  return {
    ...o,
    length: o.lengths,
    placement: o.placements.length > 1 ? 'both' : o.placements[0]!,
  };
}

/**
 * The options a resumed search runs with: the saved ones, with `device` / `dtype` / `streams` replaced when given and `epochs`
 * raised when given higher. Any other option given with a value different from the saved one is refused, each named.
 */
export function resumeOptions(saved: SearchOptions, given: Partial<SearchOptionsInput>, file: string): SearchOptions {
  const out: SearchOptions = { ...saved };
  if (given.device !== undefined) out.device = given.device;
  if (given.dtype !== undefined) out.dtype = given.dtype;
  if (given.streams !== undefined) out.streams = resolveSearchOptions({ task: saved.task, streams: given.streams }).streams!;
  const changed: string[] = [];
  for (const key of Object.keys(FLAG_OF)) {
    const value = (given as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const input = { ...asInput(saved), [key]: value } as SearchOptionsInput;
    if (key === 'pool') delete input.poolRows; // a pool given again brings its own rows (default or --pool-rows, checked next)
    const now = resolveSearchOptions(input);
    const fields = FIELDS_OF[key] ?? [key as keyof SearchOptions];
    if (key === 'length' && value === 'auto' && !saved.sweep && JSON.stringify(now.lengths) === JSON.stringify(saved.lengths)) continue;
    if (key === 'epochs') {
      if (now.epochs >= saved.epochs) out.epochs = now.epochs;
      else changed.push(`--epochs: saved ${saved.epochs}, now ${now.epochs} (it may only be raised)`);
      continue;
    }
    if (fields.some((f) => JSON.stringify(now[f]) !== JSON.stringify(saved[f]))) {
      const show = (o: SearchOptions) => fields.map((f) => JSON.stringify(o[f]) ?? 'none').join(' ');
      changed.push(`${FLAG_OF[key]}: saved ${show(saved)}, now ${show(now)}`);
    }
  }
  if (changed.length > 0) {
    fail(file, `--resume continues the saved search, whose settings differ from the ones given: ${changed.join('; ')}. ` +
      'Drop those options (or give the saved values), or start a new search in another folder');
  }
  return out;
}

/** Searches stopped by the old epoch limit run on when it was raised; the test evaluation is then redone. */
export function reopenForEpochs(state: RunState): number {
  let reopened = 0;
  for (const v of state.variants) {
    if (v.status === 'done' && v.stopReason === 'max-epochs' && v.epoch < state.options.epochs) {
      v.status = 'running';
      delete v.stopReason;
      reopened++;
    }
  }
  if (reopened > 0) state.phase = 'search';
  return reopened;
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
