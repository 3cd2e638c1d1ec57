/**
 * Ranking metrics of P5's evaluation (REFERENCE.md §5). The engine reports, per example, the 1-based rank of the
 * target among the generated sequences, or 0 when it was not generated at all; every metric here reads only that.
 */
import { fail } from '../errors.js';

function checkK(k: number, where: string): void {
  if (!Number.isInteger(k) || k < 1) fail(where, `k must be a positive integer, got ${k}`);
}

function checkRank(rank: number, i: number, where: string): void {
  if (!Number.isInteger(rank) || rank < 0) fail(where, `rank[${i}] must be 0 (miss) or a 1-based rank, got ${rank}`);
}

/** 1 where the target is among the top k outputs, else 0. */
export function hitRatePerExample(ranks: ArrayLike<number>, k: number): Float64Array {
  checkK(k, 'hitRate');
  const out = new Float64Array(ranks.length);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i]!;
    checkRank(r, i, 'hitRate');
    out[i] = r >= 1 && r <= k ? 1 : 0;
  }
  return out;
}

/** With a single relevant item the ideal DCG is 1, so NDCG@k = 1 / log2(rank + 1) inside the top k. */
export function ndcgPerExample(ranks: ArrayLike<number>, k: number): Float64Array {
  checkK(k, 'ndcg');
  const out = new Float64Array(ranks.length);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i]!;
    checkRank(r, i, 'ndcg');
    out[i] = r >= 1 && r <= k ? 1 / Math.log2(r + 1) : 0;
  }
  return out;
}

/** The arithmetic mean; NaN for no values (callers that define an empty score say so). */
export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/** HR@k in [0, 1]; 0 for an empty list. */
export function hitRate(ranks: ArrayLike<number>, k: number): number {
  return ranks.length === 0 ? 0 : mean(hitRatePerExample(ranks, k));
}

/** NDCG@k in [0, 1]; 0 for an empty list. */
export function ndcg(ranks: ArrayLike<number>, k: number): number {
  return ranks.length === 0 ? 0 : mean(ndcgPerExample(ranks, k));
}

/** The named table P5 reports: `{'HR@1': .., 'NDCG@1': .., 'HR@5': .., ...}` (fractions, not percent). */
export function rankingMetrics(ranks: ArrayLike<number>, ks: readonly number[] = [1, 5, 10]): Record<string, number> {
  const table: Record<string, number> = {};
  for (const k of ks) {
    table[`HR@${k}`] = hitRate(ranks, k);
    table[`NDCG@${k}`] = ndcg(ranks, k);
  }
  return table;
}
