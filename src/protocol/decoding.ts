/**
 * How each pass decodes (REFERENCE.md §4): the test protocol of the paper's tables and the selection criteria of the
 * search (Eq. 7, §4.2). Every caller (`paprec eval`, the search's selection and its test report, the demo,
 * pretraining validation) takes its settings from here, so the same prompt is measured the same way everywhere.
 */
import type { Task } from '../types.js';
import { fail } from '../errors.js';
import { SURROGATE_K } from '../metrics/surrogate.js';

export { SURROGATE_K };

/** Selection criterion of Eq. 7 (the paper's Table 3 ablation). */
export type Criterion = 'surrogate' | 'loss' | 'full';
export const CRITERIA: readonly Criterion[] = ['surrogate', 'loss', 'full'];

/** The test protocol: beam 20, the top 10 outputs ranked. */
export const TEST_BEAMS = 20;
export const TEST_RETURN = 10;
/** The surrogate pass (§4.2): beam 5 returning 5 (SURROGATE_K), scored at 5. */
export const SURROGATE_BEAMS = 5;
/** Longest generation, counting the decoder start token (P5's evaluation): item ids and explanations alike. */
export const MAX_LENGTH = 50;

/** One decoding pass: what the engine's beam search runs and what comes back. */
export interface Decoding {
  numBeams: number;
  numReturnSequences: number;
  /** Counts the decoder start token (HF). */
  maxLength: number;
  /** Ranks of the target (sequential, matching) or the best sequence's ids (explanation). */
  outcome: 'ranks' | 'ids';
}

/** What a user may change: the beam width and the generation length. */
export interface DecodingSettings {
  beams?: number;
  maxLength?: number;
}

export function isRanking(task: Task): boolean {
  return task !== 'explanation';
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) fail('decoding', `${name} must be a positive integer, got ${v}`);
  return v;
}

/** The test protocol: `beams` (default 20) returning min(10, beams) ranked outputs, or the best text. */
export function testDecoding(task: Task, s: DecodingSettings = {}): Decoding {
  const numBeams = positive('beams', s.beams ?? TEST_BEAMS);
  const maxLength = positive('maxLength', s.maxLength ?? MAX_LENGTH);
  return isRanking(task)
    ? { numBeams, numReturnSequences: Math.min(TEST_RETURN, numBeams), maxLength, outcome: 'ranks' }
    : { numBeams, numReturnSequences: 1, maxLength, outcome: 'ids' };
}

/**
 * The validation pass of a selection criterion: surrogate = `beams` (default 5) returning min(beams, 5); full = the
 * test protocol; loss = no generation (undefined: the teacher-forced loss is computed instead).
 */
export function selectionDecoding(task: Task, criterion: Criterion, s: DecodingSettings = {}): Decoding | undefined {
  if (criterion === 'loss') return undefined;
  if (criterion === 'full') return testDecoding(task, { ...(s.maxLength !== undefined ? { maxLength: s.maxLength } : {}) });
  const numBeams = positive('beams', s.beams ?? SURROGATE_BEAMS);
  const maxLength = positive('maxLength', s.maxLength ?? MAX_LENGTH);
  return isRanking(task)
    ? { numBeams, numReturnSequences: Math.min(SURROGATE_K, numBeams), maxLength, outcome: 'ranks' }
    : { numBeams, numReturnSequences: 1, maxLength, outcome: 'ids' };
}
