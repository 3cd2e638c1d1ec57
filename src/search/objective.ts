/**
 * The selection criterion of Eq. 7 made concrete: which validation pass to run (beams, returned sequences, or the
 * loss) and how to score its outcome on a set of rows. Higher is always better (the loss criterion scores -loss).
 *
 * - surrogate (§4.2, the default): beam 5 returning 5; HR@5 + alpha_seq NDCG@5, or BLEU-4 + alpha_exp ROUGE-L.
 * - full (the test protocol, the ablation's slow path): beam 20 returning 10; HR@5 + NDCG@5 + HR@10 + NDCG@10, or
 *   BLEU-4 + ROUGE-1 + ROUGE-2 + ROUGE-L.
 * - loss: teacher-forced P5 loss, no generation at all.
 */
import type { Task } from '../types.js';
import { bleu4, hitRatePerExample, ndcgPerExample, rouge, SURROGATE_K } from '../metrics/index.js';
import { fail } from '../errors.js';
import type { Criterion, SearchOptions } from './options.js';
import type { RowOutcomes, Scorer } from './types.js';

export interface EvalSettings {
  criterion: Criterion;
  /** Generation settings (ignored by the loss criterion). */
  numBeams: number;
  numReturnSequences: number;
  maxLength: number;
}

/** The test protocol (REFERENCE.md §4): beam 20, top-10 outputs. */
export const TEST_BEAMS = 20;
export const TEST_RETURN = 10;

/** Maximum decoding length of ranking targets: an item id is a few pieces plus `</s>` and the start token. */
export const RANKING_MAX_LENGTH = 16;

export function evalSettings(opts: Pick<SearchOptions, 'task' | 'criterion' | 'beams' | 'maxLength'>): EvalSettings {
  const maxLength = opts.task === 'explanation' ? opts.maxLength : RANKING_MAX_LENGTH;
  if (opts.criterion === 'full') return { criterion: 'full', numBeams: TEST_BEAMS, numReturnSequences: TEST_RETURN, maxLength };
  const numReturnSequences = opts.task === 'explanation' ? 1 : Math.min(opts.beams, SURROGATE_K);
  return { criterion: opts.criterion, numBeams: opts.beams, numReturnSequences, maxLength };
}

function pick<T>(xs: ArrayLike<T>, rows: ArrayLike<number>): T[] {
  const out = new Array<T>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = xs[rows[i]!]!;
  return out;
}

function allRows(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}

function meanOf(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length === 0 ? 0 : s / values.length;
}

export function makeScorer(
  task: Task,
  criterion: Criterion,
  weights: { alphaSeq: number; alphaExp: number },
  references?: readonly string[],
): Scorer {
  return {
    score(outcome: RowOutcomes, rowsIn?: ArrayLike<number>): number {
      const n = outcome.kind === 'ranks' ? outcome.ranks.length : outcome.kind === 'texts' ? outcome.texts.length : outcome.loss.length;
      const rows = rowsIn ?? allRows(n);
      if (rows.length === 0) return 0;
      if (criterion === 'loss') {
        if (outcome.kind !== 'loss') fail('search', `the loss criterion needs losses, got ${outcome.kind}`);
        let s = 0;
        for (let i = 0; i < rows.length; i++) s += outcome.loss[rows[i]!]!;
        return -s / rows.length;
      }
      if (task === 'explanation') {
        if (outcome.kind !== 'texts') fail('search', `explanation needs generated texts, got ${outcome.kind}`);
        if (!references) fail('search', 'explanation scoring needs the validation references');
        const hyps = pick(outcome.texts, rows);
        const refs = pick(references, rows);
        const r = rouge(hyps, refs);
        if (criterion === 'full') return bleu4(hyps, refs) + r.rouge1 + r.rouge2 + r.rougeL;
        return bleu4(hyps, refs) + weights.alphaExp * r.rougeL;
      }
      if (outcome.kind !== 'ranks') fail('search', `${task} needs target ranks, got ${outcome.kind}`);
      const ranks = Int32Array.from(pick(outcome.ranks, rows));
      const at5 = meanOf(hitRatePerExample(ranks, 5)) + weights.alphaSeq * meanOf(ndcgPerExample(ranks, 5));
      if (criterion === 'surrogate') return at5;
      // full: unit weights, as the test table reports them side by side.
      return meanOf(hitRatePerExample(ranks, 5)) + meanOf(ndcgPerExample(ranks, 5)) + meanOf(hitRatePerExample(ranks, 10)) + meanOf(ndcgPerExample(ranks, 10));
    },
  };
}

/**
 * The outcome of a mixed assignment built row by row: rows in `take` come from `from`, the rest from `base`.
 * Exact because a row's outcome depends only on its own slot ids: a user's [T_u] touches only that user's rows.
 */
export function composeOutcomes(base: RowOutcomes, from: RowOutcomes, take: ArrayLike<number>): RowOutcomes {
  if (base.kind !== from.kind) fail('search', `cannot mix ${base.kind} and ${from.kind} outcomes`);
  switch (base.kind) {
    case 'ranks': {
      const ranks = base.ranks.slice();
      const src = (from as typeof base).ranks;
      for (let i = 0; i < take.length; i++) ranks[take[i]!] = src[take[i]!]!;
      return { kind: 'ranks', ranks };
    }
    case 'loss': {
      const loss = base.loss.slice();
      const src = (from as typeof base).loss;
      for (let i = 0; i < take.length; i++) loss[take[i]!] = src[take[i]!]!;
      return { kind: 'loss', loss };
    }
    case 'texts': {
      const texts = base.texts.slice();
      const src = (from as typeof base).texts;
      for (let i = 0; i < take.length; i++) texts[take[i]!] = src[take[i]!]!;
      return { kind: 'texts', texts };
    }
  }
}

/** Plain-JSON form of an outcome (for state.json) and back. */
export function outcomeToJson(o: RowOutcomes): { kind: RowOutcomes['kind']; values: number[] | string[] } {
  if (o.kind === 'ranks') return { kind: 'ranks', values: Array.from(o.ranks) };
  if (o.kind === 'loss') return { kind: 'loss', values: Array.from(o.loss) };
  return { kind: 'texts', values: [...o.texts] };
}

export function outcomeFromJson(j: { kind: string; values: unknown[] }, where: string): RowOutcomes {
  if (j.kind === 'ranks') return { kind: 'ranks', ranks: Int32Array.from(j.values as number[]) };
  if (j.kind === 'loss') return { kind: 'loss', loss: Float32Array.from(j.values as number[]) };
  if (j.kind === 'texts') return { kind: 'texts', texts: (j.values as unknown[]).map(String) };
  return fail(where, `unknown outcome kind "${j.kind}"`);
}

/** Validation rows of each user (index = user index), for per-user acceptance (Eq. 11). */
export function rowsByUser(userIndex: Int32Array, numUsers: number): Int32Array[] {
  const counts = new Int32Array(numUsers);
  for (const u of userIndex) if (u >= 0 && u < numUsers) counts[u]!++;
  const out = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(numUsers);
  for (let i = 0; i < userIndex.length; i++) {
    const u = userIndex[i]!;
    if (u >= 0 && u < numUsers) out[u]![fill[u]!++] = i;
  }
  return out;
}
