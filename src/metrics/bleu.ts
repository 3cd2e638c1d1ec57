/**
 * BLEU-4 as P5 reports it (REFERENCE.md §5): corpus-level, clipped n-gram counts, uniform weights over n = 1..4,
 * no smoothing (any zero precision gives 0), brevity penalty exp(1 - r/c) when the hypotheses are not longer than
 * the references, whitespace tokens, x100. One reference per hypothesis.
 */
import { fail } from '../errors.js';
import { ngramCounts, whitespaceTokens } from './tokens.js';

const MAX_ORDER = 4;

/** Sufficient statistics of one (hypothesis, reference) pair; corpus BLEU sums them. */
interface BleuStats {
  matches: number[]; // clipped matches per order
  possible: number[]; // hypothesis n-grams per order
  hypLength: number;
  refLength: number;
}

function pairStats(hyp: readonly string[], ref: readonly string[]): BleuStats {
  const matches = new Array<number>(MAX_ORDER).fill(0);
  const possible = new Array<number>(MAX_ORDER).fill(0);
  for (let n = 1; n <= MAX_ORDER; n++) {
    const refCounts = ngramCounts(ref, n);
    for (const [gram, count] of ngramCounts(hyp, n)) {
      matches[n - 1]! += Math.min(count, refCounts.get(gram) ?? 0);
    }
    possible[n - 1] = Math.max(0, hyp.length - n + 1);
  }
  return { matches, possible, hypLength: hyp.length, refLength: ref.length };
}

function bleuFromStats(s: BleuStats): number {
  if (s.hypLength === 0) return 0;
  let logSum = 0;
  for (let n = 0; n < MAX_ORDER; n++) {
    if (s.matches[n]! === 0 || s.possible[n]! === 0) return 0; // unsmoothed: one empty order zeroes the score
    logSum += Math.log(s.matches[n]! / s.possible[n]!);
  }
  const ratio = s.hypLength / s.refLength;
  const brevity = ratio > 1 ? 1 : Math.exp(1 - 1 / ratio);
  return 100 * brevity * Math.exp(logSum / MAX_ORDER);
}

function checkPairs(hypotheses: readonly string[], references: readonly string[], where: string): void {
  if (hypotheses.length !== references.length) {
    fail(where, `${hypotheses.length} hypotheses but ${references.length} references (one reference per hypothesis)`);
  }
}

/** Corpus BLEU-4 x100 over all pairs; 0 for an empty corpus or an empty hypothesis side. */
export function bleu4(hypotheses: readonly string[], references: readonly string[]): number {
  checkPairs(hypotheses, references, 'bleu4');
  const total: BleuStats = {
    matches: new Array<number>(MAX_ORDER).fill(0),
    possible: new Array<number>(MAX_ORDER).fill(0),
    hypLength: 0,
    refLength: 0,
  };
  for (let i = 0; i < hypotheses.length; i++) {
    const s = pairStats(whitespaceTokens(hypotheses[i]!), whitespaceTokens(references[i]!));
    for (let n = 0; n < MAX_ORDER; n++) {
      total.matches[n]! += s.matches[n]!;
      total.possible[n]! += s.possible[n]!;
    }
    total.hypLength += s.hypLength;
    total.refLength += s.refLength;
  }
  return bleuFromStats(total);
}

/**
 * Sentence-level BLEU-4 x100 of every pair, same definition on one pair (for paired significance tests).
 * Unsmoothed, so short or loosely matching sentences score 0; corpus BLEU is not the mean of these.
 */
export function bleu4PerExample(hypotheses: readonly string[], references: readonly string[]): Float64Array {
  checkPairs(hypotheses, references, 'bleu4PerExample');
  const out = new Float64Array(hypotheses.length);
  for (let i = 0; i < hypotheses.length; i++) {
    out[i] = bleuFromStats(pairStats(whitespaceTokens(hypotheses[i]!), whitespaceTokens(references[i]!)));
  }
  return out;
}
