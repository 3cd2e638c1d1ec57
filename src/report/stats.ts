/**
 * The statistics of the paper's tables: mean, sample standard deviation and the paired two-sided t-test.
 * The t distribution's cdf comes from jstat (loaded through require: it ships CommonJS without types).
 */
import { createRequire } from 'node:module';
import { mean } from '../metrics/ranking.js';

interface JStat {
  studentt: { cdf(x: number, dof: number): number };
}
const require = createRequire(import.meta.url);
const { jStat } = require('jstat') as { jStat: JStat };

export { mean };

/** Sample standard deviation (n - 1 in the denominator); 0 for a single value, NaN for none. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

export interface TTestResult {
  /** t statistic of the mean difference a - b. */
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  n: number;
  meanDifference: number;
}

/**
 * Paired two-sided t-test of a[i] - b[i]: t = mean(d) / (sd(d) / sqrt(n)), df = n - 1, p = 2 * P(T > |t|).
 * Returns null when fewer than two pairs exist (no variance to test against).
 * When every difference is the same (sd = 0) the test degenerates: p = 1 if that difference is 0, else p = 0
 * (a constant non-zero shift is as significant as it gets), with t = 0 or +-Infinity to match.
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): TTestResult | null {
  if (a.length !== b.length) throw new RangeError(`pairedTTest: ${a.length} values against ${b.length}`);
  const n = a.length;
  if (n < 2) return null;
  const d = a.map((x, i) => x - (b[i] as number));
  const md = mean(d);
  const sd = sampleStd(d);
  const df = n - 1;
  // Differences below float noise of the inputs count as none (e.g. 0.1 + 0.2 - 0.3).
  const scale = Math.max(1, ...a.map(Math.abs), ...b.map(Math.abs));
  if (sd <= 1e-12 * scale) {
    const zero = Math.abs(md) <= 1e-12 * scale;
    return { t: zero ? 0 : Math.sign(md) * Infinity, df, p: zero ? 1 : 0, n, meanDifference: md };
  }
  const t = md / (sd / Math.sqrt(n));
  // 2 * cdf(-|t|) rather than 2 * (1 - cdf(|t|)): no cancellation for tiny p-values.
  const p = Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), df));
  return { t, df, p, n, meanDifference: md };
}
