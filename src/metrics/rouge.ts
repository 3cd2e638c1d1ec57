/**
 * ROUGE as P5 computes it (REFERENCE.md §5; the seq2seq `rouge.py` P5 ships): per example, ROUGE-1/2 are the F1
 * of the *sets* of n-grams (repeats count once), ROUGE-L is the LCS F-measure with beta = P_lcs / R_lcs; each is
 * averaged over examples and reported x100. Whitespace tokens.
 */
import { fail } from '../errors.js';
import { whitespaceTokens } from './tokens.js';

export interface RougeScores {
  rouge1: number;
  rouge2: number;
  rougeL: number;
}

export interface RougePerExample {
  rouge1: Float64Array;
  rouge2: Float64Array;
  rougeL: Float64Array;
}

function ngramSet(tokens: readonly string[], n: number): Set<string> {
  const set = new Set<string>();
  for (let i = 0; i + n <= tokens.length; i++) set.add(tokens.slice(i, i + n).join(' '));
  return set;
}

/** F1 over n-gram sets, in [0, 1]. */
export function rougeN(hyp: readonly string[], ref: readonly string[], n: number): number {
  const h = ngramSet(hyp, n);
  const r = ngramSet(ref, n);
  if (h.size === 0 || r.size === 0) return 0;
  let overlap = 0;
  for (const g of h) if (r.has(g)) overlap++;
  if (overlap === 0) return 0;
  const p = overlap / h.size;
  const rec = overlap / r.size;
  return (2 * p * rec) / (p + rec);
}

/** Length of the longest common subsequence (two-row dynamic programme). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * LCS F-measure in [0, 1]: F = (1 + b^2) R P / (R + b^2 P) with b = P / R, P5's choice (its seq2seq rouge.py);
 * it equals P when P = R and leans toward the larger of the two otherwise.
 */
export function rougeL(hyp: readonly string[], ref: readonly string[]): number {
  if (hyp.length === 0 || ref.length === 0) return 0;
  const lcs = lcsLength(hyp, ref);
  if (lcs === 0) return 0;
  const r = lcs / ref.length;
  const p = lcs / hyp.length;
  const beta2 = (p / r) ** 2;
  return ((1 + beta2) * r * p) / (r + beta2 * p);
}

/** ROUGE-1/2/L x100 of every pair. */
export function rougePerExample(hypotheses: readonly string[], references: readonly string[]): RougePerExample {
  if (hypotheses.length !== references.length) {
    fail('rouge', `${hypotheses.length} hypotheses but ${references.length} references (one reference per hypothesis)`);
  }
  const n = hypotheses.length;
  const out: RougePerExample = { rouge1: new Float64Array(n), rouge2: new Float64Array(n), rougeL: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const h = whitespaceTokens(hypotheses[i]!);
    const r = whitespaceTokens(references[i]!);
    out.rouge1[i] = 100 * rougeN(h, r, 1);
    out.rouge2[i] = 100 * rougeN(h, r, 2);
    out.rougeL[i] = 100 * rougeL(h, r);
  }
  return out;
}

function avg(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return a.length === 0 ? 0 : s / a.length;
}

/** Mean ROUGE-1/2/L x100 over examples; zeros for an empty list. */
export function rouge(hypotheses: readonly string[], references: readonly string[]): RougeScores {
  const per = rougePerExample(hypotheses, references);
  return { rouge1: avg(per.rouge1), rouge2: avg(per.rouge2), rougeL: avg(per.rougeL) };
}
