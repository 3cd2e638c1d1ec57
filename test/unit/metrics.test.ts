import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bleu4,
  bleu4PerExample,
  hitRate,
  hitRatePerExample,
  ndcg,
  ndcgPerExample,
  rankingMetrics,
  rouge,
  rougePerExample,
  lcsLength,
  surrogate,
} from '../../src/metrics/index.js';
import { PaprecError } from '../../src/errors.js';

describe('HR and NDCG from ranks', () => {
  const ranks = Int32Array.from([1, 3, 0, 6, 10, 11]);

  it('matches hand-computed values', () => {
    expect(hitRate(ranks, 1)).toBeCloseTo(1 / 6, 12);
    expect(hitRate(ranks, 5)).toBeCloseTo(2 / 6, 12);
    expect(hitRate(ranks, 10)).toBeCloseTo(4 / 6, 12);
    expect(ndcg(ranks, 5)).toBeCloseTo((1 + 1 / 2) / 6, 12); // rank 3: 1/log2(4)
    expect(ndcg(ranks, 10)).toBeCloseTo((1 + 0.5 + 1 / Math.log2(7) + 1 / Math.log2(11)) / 6, 12);
    expect(Array.from(hitRatePerExample(ranks, 5))).toEqual([1, 1, 0, 0, 0, 0]);
    expect(ndcgPerExample(ranks, 10)[3]).toBeCloseTo(1 / Math.log2(7), 12);
  });

  it('counts a k larger than the list of outputs like any other k', () => {
    expect(hitRate(ranks, 100)).toBeCloseTo(5 / 6, 12);
    expect(hitRate(new Int32Array(0), 5)).toBe(0);
    expect(ndcg(new Int32Array(0), 5)).toBe(0);
  });

  it('names the table the way the paper does', () => {
    const t = rankingMetrics(ranks, [1, 5]);
    expect(Object.keys(t)).toEqual(['HR@1', 'NDCG@1', 'HR@5', 'NDCG@5']);
    expect(t['HR@1']).toBeCloseTo(t['NDCG@1']!, 12); // rank 1 weighs 1 in both
    expect(Object.keys(rankingMetrics(ranks))).toContain('NDCG@10');
  });

  it('rejects bad k and bad ranks', () => {
    expect(() => hitRate(ranks, 0)).toThrow(PaprecError);
    expect(() => ndcg([1, -2], 5)).toThrow(/rank\[1\]/);
    expect(() => hitRate([1.5], 5)).toThrow(PaprecError);
  });

  const rankLists = fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 });
  it('HR is monotone in k and bounds NDCG (property)', () => {
    fc.assert(
      fc.property(rankLists, fc.integer({ min: 1, max: 25 }), (rs, k) => {
        expect(hitRate(rs, k + 1)).toBeGreaterThanOrEqual(hitRate(rs, k));
        expect(ndcg(rs, k + 1)).toBeGreaterThanOrEqual(ndcg(rs, k) - 1e-12);
        expect(ndcg(rs, k)).toBeLessThanOrEqual(hitRate(rs, k) + 1e-12);
        expect(ndcg(rs, 1)).toBeCloseTo(hitRate(rs, 1), 12);
      }),
    );
  });
});

describe('BLEU-4', () => {
  it('is 100 for identical texts and 0 without overlap', () => {
    expect(bleu4(['the cat sat on the mat'], ['the cat sat on the mat'])).toBeCloseTo(100, 10);
    expect(bleu4(['a b c d e'], ['v w x y z'])).toBe(0);
  });

  it('applies the brevity penalty to a short hypothesis', () => {
    // precisions 4/5, 3/4, 2/3, 1/2; c = 5, r = 6
    const expected = 100 * Math.exp(1 - 6 / 5) * Math.pow((4 / 5) * (3 / 4) * (2 / 3) * (1 / 2), 1 / 4);
    expect(bleu4(['a b c d e'], ['a b c d f g'])).toBeCloseTo(expected, 10);
  });

  it('clips repeated n-grams by their count in the reference', () => {
    // unigram "a" twice in the hypothesis, once in the reference: 4/5, 3/4, 2/3, 1/2; longer than the reference
    expect(bleu4(['a a b c d'], ['a b c d'])).toBeCloseTo(100 * Math.pow(0.2, 0.25), 10);
  });

  it('is unsmoothed: no matching 4-gram gives 0', () => {
    expect(bleu4(['a b c x d'], ['a b c y d'])).toBe(0);
    expect(bleu4(['a b'], ['a b'])).toBe(0); // no 4-gram at all
  });

  it('pools counts over the corpus instead of averaging sentences', () => {
    const hyps = ['a b c d', 'x y'];
    const refs = ['a b c d', 'z w'];
    // 1-grams 4/6, 2-grams 3/4, 3-grams 2/2, 4-grams 1/1, lengths 6 = 6
    expect(bleu4(hyps, refs)).toBeCloseTo(100 * Math.pow((4 / 6) * (3 / 4), 1 / 4), 10);
    expect(Array.from(bleu4PerExample(hyps, refs))).toEqual([100, 0]);
  });

  it('handles empty hypotheses, empty corpora and whitespace runs', () => {
    expect(bleu4([''], ['a b c d'])).toBe(0);
    expect(bleu4([], [])).toBe(0);
    expect(bleu4(['  a b\tc \n d '], ['a b c d'])).toBeCloseTo(100, 10);
    expect(() => bleu4(['a'], [])).toThrow(/1 hypotheses but 0 references/);
  });
});

describe('ROUGE', () => {
  it('matches hand-computed values', () => {
    const r = rouge(['the cat sat'], ['the cat ran away']);
    expect(r.rouge1).toBeCloseTo((100 * 4) / 7, 10); // P 2/3, R 2/4
    expect(r.rouge2).toBeCloseTo(40, 10); // P 1/2, R 1/3
    // LCS 2: R = 1/2, P = 2/3, beta = P / R = 4/3
    const b2 = 16 / 9;
    expect(r.rougeL).toBeCloseTo((100 * ((1 + b2) * 0.5 * (2 / 3))) / (0.5 + b2 * (2 / 3)), 10);
  });

  it('scores n-gram sets, so repeats count once', () => {
    const r = rouge(['a a a'], ['a']);
    expect(r.rouge1).toBeCloseTo(100, 10);
    expect(r.rouge2).toBe(0); // the reference has no bigram
    // LCS 1: R = 1, P = 1/3
    const b2 = 1 / 9;
    expect(r.rougeL).toBeCloseTo((100 * ((1 + b2) * (1 / 3))) / (1 + b2 / 3), 10);
  });

  it('averages over examples and handles the edge cases', () => {
    const r = rouge(['a b c', '', 'x'], ['a b c', 'a b', 'y']);
    expect(r.rouge1).toBeCloseTo(100 / 3, 10);
    expect(r.rougeL).toBeCloseTo(100 / 3, 10);
    expect(rouge([], [])).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0 });
    expect(Array.from(rougePerExample([''], ['a']).rougeL)).toEqual([0]);
    expect(lcsLength(['a', 'b', 'c', 'd'], ['b', 'x', 'd'])).toBe(2);
  });

  const words = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 12 }).map((w) => w.join(' '));
  it('is symmetric and bounded by 100 (property)', () => {
    fc.assert(
      fc.property(words, words, (h, r) => {
        const ab = rouge([h], [r]);
        const ba = rouge([r], [h]);
        for (const key of ['rouge1', 'rouge2', 'rougeL'] as const) {
          expect(ab[key]).toBeCloseTo(ba[key], 9);
          expect(ab[key]).toBeGreaterThanOrEqual(0);
          expect(ab[key]).toBeLessThanOrEqual(100 + 1e-9);
        }
        if (h !== '' && h === r) expect(ab.rougeL).toBeCloseTo(100, 9);
      }),
    );
  });
});

describe('surrogate metrics', () => {
  it('adds HR@5 and alpha * NDCG@5 for ranking tasks', () => {
    const ranks = Int32Array.from([1, 3, 0, 6]);
    expect(surrogate('sequential', ranks)).toBeCloseTo(2 / 4 + 1.5 / 4, 12);
    expect(surrogate('matching', ranks, { alphaSeq: 0 })).toBeCloseTo(0.5, 12);
  });

  it('adds BLEU-4 and 0.1 * ROUGE-L for explanation', () => {
    const outcome = { hypotheses: ['a b c d e'], references: ['a b c d f g'] };
    const expected = bleu4(outcome.hypotheses, outcome.references) + 0.1 * rouge(outcome.hypotheses, outcome.references).rougeL;
    expect(surrogate('explanation', outcome)).toBeCloseTo(expected, 10);
    expect(expected).toBeGreaterThan(0);
  });

  it('refuses an outcome of the wrong kind', () => {
    expect(() => surrogate('explanation', Int32Array.from([1]))).toThrow(PaprecError);
    expect(() => surrogate('sequential', { hypotheses: [], references: [] })).toThrow(PaprecError);
  });
});
