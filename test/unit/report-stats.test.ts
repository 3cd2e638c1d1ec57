import { describe, expect, it } from 'vitest';
import { mean, pairedTTest, sampleStd } from '../../src/report/stats.js';

describe('mean and sampleStd', () => {
  it('use n - 1 for the standard deviation', () => {
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    // Sum of squared deviations 32, n - 1 = 7.
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(sampleStd([3])).toBe(0);
    expect(Number.isNaN(sampleStd([]))).toBe(true);
  });
});

describe('pairedTTest', () => {
  it("matches Student's sleep data (R: t.test(extra ~ group, data = sleep, paired = TRUE))", () => {
    // Cushny & Peebles via Student (1908); R reports t = -4.0621, df = 9, p-value = 0.002833, mean diff -1.58.
    const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const r = pairedTTest(drug1, drug2)!;
    expect(r.df).toBe(9);
    expect(r.n).toBe(10);
    expect(r.meanDifference).toBeCloseTo(-1.58, 12);
    expect(r.t).toBeCloseTo(-4.0621, 4);
    expect(r.p).toBeCloseTo(0.002833, 6);
    // Symmetric: swapping the samples flips t, not p.
    const s = pairedTTest(drug2, drug1)!;
    expect(s.t).toBeCloseTo(4.0621, 4);
    expect(s.p).toBeCloseTo(r.p, 12);
  });

  it('matches the closed forms of the t distribution with 1 and 2 degrees of freedom', () => {
    // df = 2: d = 1, 2, 3 -> mean 2, sd 1, t = 2 * sqrt(3); p = 1 - t / sqrt(2 + t^2).
    const r2 = pairedTTest([1, 2, 3], [0, 0, 0])!;
    const t2 = 2 * Math.sqrt(3);
    expect(r2.t).toBeCloseTo(t2, 12);
    expect(r2.p).toBeCloseTo(1 - t2 / Math.sqrt(2 + t2 * t2), 10);
    // df = 1 (Cauchy): d = 1, 3 -> mean 2, sd sqrt(2), t = 2; p = 1 - (2 / pi) * atan(2).
    const r1 = pairedTTest([1, 3], [0, 0])!;
    expect(r1.t).toBeCloseTo(2, 12);
    expect(r1.p).toBeCloseTo(1 - (2 / Math.PI) * Math.atan(2), 10);
  });

  it('handles the degenerate cases', () => {
    expect(pairedTTest([0.1], [0.2])).toBeNull();
    expect(pairedTTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])!.p).toBe(1);
    const shift = pairedTTest([0.3, 0.4, 0.5], [0.2, 0.3, 0.4])!; // constant difference 0.1 (up to float noise)
    expect(shift.p).toBe(0);
    expect(shift.t).toBe(Infinity);
    expect(() => pairedTTest([1, 2], [1])).toThrow(RangeError);
  });
});
