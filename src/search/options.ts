/**
 * Search options: the paper's defaults (REFERENCE.md §4) and the checks that run before any work, so a bad flag
 * fails in milliseconds with a message instead of after an hour of gradients.
 */
import { fail } from '../errors.js';
import { TASKS, type Task } from '../types.js';
import type { Placement, UserTokenPosition } from '../prompts/types.js';
import { CRITERIA, MAX_LENGTH, SURROGATE_BEAMS, TEST_BEAMS, type Criterion } from '../protocol/decoding.js';

export { CRITERIA, type Criterion };
export type PlacementOption = Placement | 'both';
/** Where the per-user acceptance is judged (SearchOptionsInput.userAccept). */
export type UserAccept = 'validation' | 'last-train';
export const USER_ACCEPTS: readonly UserAccept[] = ['validation', 'last-train'];

/** Options as a caller gives them; everything but `task` has the paper's default. */
export interface SearchOptionsInput {
  task: Task | string;
  /** 'auto' (non-personalized: l = 5 and 6, keep the better), one length, or a list to sweep ("3,4,5,6,7"). */
  length?: 'auto' | number | readonly number[] | string;
  personalized?: boolean;
  placement?: PlacementOption;
  userPosition?: UserTokenPosition;
  /** Candidates per round (Eq. 6), default 5. */
  k?: number;
  /**
   * Gradient candidates ranked per round by the training loss before the best k are scored (B >= k; default k: the
   * paper's procedure, no loss pass). GCG-style "more candidates per round, cheaply".
   */
  pool?: number;
  /** Training rows of the pool's loss pass (a seeded sample, uploaded once per search); default 256. Needs pool > k. */
  poolRows?: number;
  /**
   * Where the per-user acceptance (Eq. 11) is judged: 'validation' (the paper: strictly better on the user's
   * validation rows) or 'last-train' (strictly better on the user's last training example, so validation stays a
   * held-out measure of the user tokens for the task rounds and the kept prompt).
   */
  userAccept?: UserAccept | string;
  /** Surrogate weights: HR@5 + alphaSeq * NDCG@5 (default 1); BLEU-4 + alphaExp * ROUGE-L (default 0.1). */
  alphaSeq?: number;
  alphaExp?: number;
  /** Beams of the surrogate pass (default 5); it returns min(beams, 5) sequences. */
  beams?: number;
  criterion?: Criterion | string;
  /** Maximum epochs per search (default 50). */
  epochs?: number;
  seed?: number;
  maxUsers?: number;
  device?: string;
  /** fp32 (default), bf16 or auto; may change on resume, like the device. */
  dtype?: 'fp32' | 'bf16' | 'auto';
  streams?: number;
  /** Training rows per gradient pass (seeded sample); default all. */
  gradientSample?: number;
  /** Test runs of the report (default 5; runs differ by the rendering seed). */
  runs?: number;
  /** Beams of the report's test pass (default 20, the test protocol: `paprec eval --beams`). */
  testBeams?: number;
  /** Longest generation, start token included, of the selection and the test passes (default 50, P5's). */
  maxLength?: number;
}

export interface SearchOptions {
  task: Task;
  lengths: number[];
  /** True when the user asked for several lengths (a sweep: every length is reported). */
  sweep: boolean;
  personalized: boolean;
  placements: Placement[];
  userPosition: UserTokenPosition;
  k: number;
  /** Present only when larger than k (absent = the paper's procedure); poolRows then too. */
  pool?: number;
  poolRows?: number;
  /** Absent = 'validation', the paper's per-user acceptance (Eq. 11). */
  userAccept?: Exclude<UserAccept, 'validation'>;
  alphaSeq: number;
  alphaExp: number;
  beams: number;
  criterion: Criterion;
  epochs: number;
  seed: number;
  maxUsers?: number;
  device: string;
  dtype?: 'fp32' | 'bf16' | 'auto';
  streams?: number;
  gradientSample?: number;
  runs: number;
  /** Absent = the test protocol's 20. */
  testBeams?: number;
  maxLength: number;
}

export const DEFAULTS = {
  length: 5,
  autoLengths: [5, 6],
  k: 5,
  poolRows: 256,
  alphaSeq: 1,
  alphaExp: 0.1,
  beams: SURROGATE_BEAMS,
  epochs: 50,
  seed: 2022,
  runs: 5,
  maxLength: MAX_LENGTH,
} as const;

const WHERE = 'search options';

function positiveInt(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    fail(WHERE, `${name} must be an integer in 1..${max}, got ${String(v)}`);
  }
  return v;
}

function finiteNonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(WHERE, `${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}

/** `auto`, `5`, `3,4,5,6,7` or numbers -> the lengths to search, and whether that is a sweep. */
export function parseLengths(spec: SearchOptionsInput['length'], personalized: boolean): { lengths: number[]; sweep: boolean } {
  if (spec === undefined || spec === 'auto') {
    // The paper: non-personalized prompts try l = 5 and 6; personalized prompts use l = 5 plus [T_u].
    return personalized ? { lengths: [DEFAULTS.length], sweep: false } : { lengths: [...DEFAULTS.autoLengths], sweep: false };
  }
  let raw: unknown[];
  if (typeof spec === 'number') raw = [spec];
  else if (typeof spec === 'string') raw = spec.split(',').map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
  else raw = [...spec];
  if (raw.length === 0) fail(WHERE, 'length list is empty');
  const lengths = raw.map((v) => positiveInt('length l', v, 64));
  if (new Set(lengths).size !== lengths.length) fail(WHERE, `length list repeats a value: ${lengths.join(',')}`);
  return { lengths, sweep: lengths.length > 1 };
}

/** Fill defaults and check every option that needs no file. */
export function resolveSearchOptions(input: SearchOptionsInput): SearchOptions {
  if (!TASKS.includes(input.task as Task)) fail(WHERE, `unknown task "${input.task}"; expected one of ${TASKS.join(', ')}`);
  const task = input.task as Task;
  const personalized = input.personalized ?? false;
  const { lengths, sweep } = parseLengths(input.length, personalized);
  const placement = input.placement ?? 'suffix';
  if (!['suffix', 'prefix', 'both'].includes(placement)) fail(WHERE, `placement must be suffix, prefix or both, got "${placement}"`);
  const userPosition = input.userPosition ?? 'end';
  if (!['end', 'start'].includes(userPosition)) fail(WHERE, `user-token position must be end or start, got "${userPosition}"`);
  const criterion = (input.criterion ?? 'surrogate') as Criterion;
  if (!CRITERIA.includes(criterion)) fail(WHERE, `criterion must be one of ${CRITERIA.join(', ')}, got "${input.criterion}"`);
  const seed = input.seed ?? DEFAULTS.seed;
  if (!Number.isInteger(seed)) fail(WHERE, `seed must be an integer, got ${seed}`);
  const out: SearchOptions = {
    task,
    lengths,
    sweep,
    personalized,
    placements: placement === 'both' ? ['suffix', 'prefix'] : [placement],
    userPosition,
    k: positiveInt('k', input.k ?? DEFAULTS.k),
    alphaSeq: finiteNonNegative('alpha-seq', input.alphaSeq ?? DEFAULTS.alphaSeq),
    alphaExp: finiteNonNegative('alpha-exp', input.alphaExp ?? DEFAULTS.alphaExp),
    beams: positiveInt('beams', input.beams ?? DEFAULTS.beams, 256),
    criterion,
    epochs: positiveInt('epochs', input.epochs ?? DEFAULTS.epochs),
    seed,
    device: input.device ?? 'auto',
    runs: positiveInt('runs', input.runs ?? DEFAULTS.runs, 1000),
    maxLength: positiveInt('max-length', input.maxLength ?? DEFAULTS.maxLength, 4096),
  };
  if (input.maxUsers !== undefined) out.maxUsers = positiveInt('max-users', input.maxUsers);
  if (input.dtype !== undefined && input.dtype !== 'fp32') out.dtype = input.dtype;
  if (input.streams !== undefined) out.streams = positiveInt('streams', input.streams, 64);
  if (input.gradientSample !== undefined) out.gradientSample = positiveInt('gradient-sample', input.gradientSample);
  Object.assign(out, resolvePool(out.k, input));
  if (input.userAccept !== undefined && !USER_ACCEPTS.includes(input.userAccept as UserAccept)) {
    fail(WHERE, `user-accept must be one of ${USER_ACCEPTS.join(', ')}, got "${input.userAccept}"`);
  }
  if (input.userAccept === 'last-train') {
    if (!personalized) fail(WHERE, 'user-accept last-train needs --personalized (it is a rule of the per-user acceptance)');
    out.userAccept = 'last-train';
  }
  if (input.testBeams !== undefined && input.testBeams !== TEST_BEAMS) out.testBeams = positiveInt('test-beams', input.testBeams, 256);
  return out;
}

/** The candidate pool: B = k (or none given) is the paper's procedure and leaves both fields out. */
function resolvePool(k: number, input: Pick<SearchOptionsInput, 'pool' | 'poolRows'>): Pick<SearchOptions, 'pool' | 'poolRows'> {
  const pool = positiveInt('pool', input.pool ?? k);
  if (pool < k) fail(WHERE, `pool B = ${pool} is smaller than k = ${k}: the pool is ranked by the training loss and its best k are scored`);
  if (pool === k) {
    if (input.poolRows !== undefined) fail(WHERE, `pool-rows needs a pool larger than k (--pool B with B > ${k})`);
    return {};
  }
  return { pool, poolRows: positiveInt('pool-rows', input.poolRows ?? DEFAULTS.poolRows) };
}

/**
 * Checks that need the tokenizer and the model config (still before any data or weights are read): every tokenizer
 * id needs a model row (more rows are fine: T5 v1.1 / Flan-T5 keep 32,128 rows for 32,100 pieces; the rows beyond
 * the tokenizer are never slot candidates), and k cannot exceed the tokens allowed in a slot (word starts).
 */
export function checkAgainstVocabulary(
  opts: Pick<SearchOptions, 'k' | 'pool'>,
  vocab: { tokenizerVocab: number; modelVocab?: number; wordStarts: number; tokenizerName?: string; modelName?: string },
): void {
  if (vocab.modelVocab !== undefined && vocab.modelVocab < vocab.tokenizerVocab) {
    fail(
      vocab.modelName ?? 'model',
      `vocabulary size ${vocab.modelVocab} is smaller than the tokenizer's ${vocab.tokenizerVocab}` +
        `${vocab.tokenizerName ? ` (${vocab.tokenizerName})` : ''}: they were not trained together`,
    );
  }
  // One more than k: the slot's current token is always left out of its own candidate set.
  if (opts.k + 1 > vocab.wordStarts) {
    fail(WHERE, `k = ${opts.k} is larger than the vocabulary's ${vocab.wordStarts} word-start tokens (less one for the current token)`);
  }
  if (opts.pool !== undefined && opts.pool + 1 > vocab.wordStarts) {
    fail(WHERE, `pool B = ${opts.pool} is larger than the vocabulary's ${vocab.wordStarts} word-start tokens (less one for the current token)`);
  }
}
