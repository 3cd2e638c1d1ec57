/**
 * The paired bootstrap over users: the 95% interval of a row's difference from the best manual prompt. Each
 * resample draws n examples (users) with replacement from the n pairs (a_i, b_i) and takes the mean of a_i - b_i;
 * the interval is the 2.5% and 97.5% quantiles of those means (the percentile bootstrap). The draws come from one
 * seeded Rng, so the same scores give the same interval, and every row of a column is resampled with the same users.
 */
import { Rng } from '../data/rng.js';
import { mean } from './stats.js';

export const BOOTSTRAP_RESAMPLES = 1000;
export const BOOTSTRAP_SEED = 2022;
export const BOOTSTRAP_LEVEL = 0.95;

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  level?: number;
}

export interface BootstrapInterval {
  /** Observed mean difference a - b over the n pairs. */
  difference: number;
  lo: number;
  hi: number;
  level: number;
  resamples: number;
  seed: number;
  /** Number of pairs (examples). */
  n: number;
}

/** Quantile q of sorted values, linear between order statistics (R's type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

/** The interval of mean(a - b), or null with no pairs. */
export function pairedBootstrap(a: readonly number[], b: readonly number[], opts: BootstrapOptions = {}): BootstrapInterval | null {
  if (a.length !== b.length) throw new RangeError(`pairedBootstrap: ${a.length} values against ${b.length}`);
  const resamples = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = opts.seed ?? BOOTSTRAP_SEED;
  const level = opts.level ?? BOOTSTRAP_LEVEL;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`pairedBootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`pairedBootstrap: level must be in (0, 1), got ${level}`);
  const n = a.length;
  if (n === 0) return null;
  const d = a.map((x, i) => x - (b[i] as number));
  const rng = new Rng(seed);
  const means = new Array<number>(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[rng.int(n)] as number;
    means[r] = s / n;
  }
  means.sort((x, y) => x - y);
  const tail = (1 - level) / 2;
  return { difference: mean(d), lo: quantile(means, tail), hi: quantile(means, 1 - tail), level, resamples, seed, n };
}
