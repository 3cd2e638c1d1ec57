/**
 * Outcome -> numbers, once: the test metrics of the paper's tables (with the per-example scores the paired tests
 * need) and the selection score of each criterion (Eq. 7). The engine returns outcomes (target ranks, generated
 * ids, per-row losses); everything numeric about them is defined here or in src/metrics/.
 */
import { EOS_ID, type Task, type Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { bleu4, hitRatePerExample, mean, ndcgPerExample, rougePerExample, surrogate, type SurrogateWeights } from '../metrics/index.js';
import type { Criterion } from './decoding.js';

/**
 * What one pass yields, row by row: target ranks (ranking tasks, 1-based, 0 = missed), generated texts
 * (explanation), or per-row P5 loss (the loss criterion).
 */
export type RowOutcomes =
  | { kind: 'ranks'; ranks: Int32Array }
  | { kind: 'texts'; texts: string[] }
  | { kind: 'loss'; loss: Float32Array };

/** The metric columns of the paper's tables. */
export function metricNames(task: Task): string[] {
  if (task === 'explanation') return ['BLEU-4', 'ROUGE-1', 'ROUGE-2', 'ROUGE-L'];
  return [...(task === 'matching' ? ['HR@1'] : []), 'HR@5', 'NDCG@5', 'HR@10', 'NDCG@10'];
}

/** Generated ids [size, width] -> texts, each cut at its first </s>. */
export function decodeTexts(ids: Int32Array, size: number, tokenizer: Pick<Tokenizer, 'decode'>): string[] {
  const width = size === 0 ? 0 : ids.length / size;
  const out: string[] = [];
  for (let i = 0; i < size; i++) {
    const row = ids.subarray(i * width, (i + 1) * width);
    const end = row.indexOf(EOS_ID);
    out.push(tokenizer.decode(end < 0 ? row : row.subarray(0, end)).trim());
  }
  return out;
}

/** One run's table values and the per-example scores behind them (BLEU-4 is a corpus statistic: none). */
export interface TestMeasure {
  metrics: Record<string, number>;
  perExample: Record<string, number[]>;
}

export function rankingMeasure(task: Task, ranks: ArrayLike<number>): TestMeasure {
  const metrics: Record<string, number> = {};
  const perExample: Record<string, number[]> = {};
  for (const name of metricNames(task)) {
    const [kind, at] = name.split('@') as [string, string];
    const per = kind === 'HR' ? hitRatePerExample(ranks, Number(at)) : ndcgPerExample(ranks, Number(at));
    metrics[name] = mean(per);
    perExample[name] = Array.from(per);
  }
  return { metrics, perExample };
}

export function explanationMeasure(hypotheses: readonly string[], references: readonly string[]): TestMeasure {
  const r = rougePerExample(hypotheses, references);
  return {
    metrics: { 'BLEU-4': bleu4(hypotheses, references), 'ROUGE-1': mean(r.rouge1), 'ROUGE-2': mean(r.rouge2), 'ROUGE-L': mean(r.rougeL) },
    perExample: { 'ROUGE-1': Array.from(r.rouge1), 'ROUGE-2': Array.from(r.rouge2), 'ROUGE-L': Array.from(r.rougeL) },
  };
}

/** The test measure of an outcome (ranks, or texts against `references`). */
export function testMeasure(task: Task, outcome: RowOutcomes, references?: readonly string[]): TestMeasure {
  if (outcome.kind === 'ranks') return rankingMeasure(task, outcome.ranks);
  if (outcome.kind === 'texts') return explanationMeasure(outcome.texts, references ?? fail('measure', 'explanation needs the reference texts'));
  return fail('measure', 'a loss outcome has no test metrics');
}

function pick<T>(xs: ArrayLike<T>, rows: ArrayLike<number>): T[] {
  const out = new Array<T>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = xs[rows[i]!]!;
  return out;
}

/** A search's score of an outcome on a set of rows (all rows when `rows` is absent). Higher is better. */
export interface Scorer {
  score(outcome: RowOutcomes, rows?: ArrayLike<number>): number;
}

/**
 * The selection score of a criterion: surrogate = HR@5 + alpha_seq NDCG@5 or BLEU-4 + alpha_exp ROUGE-L (§4.2);
 * full = the sum of the test table's columns (unit weights, HR@1 left out); loss = -mean P5 loss.
 */
export function makeScorer(task: Task, criterion: Criterion, weights: SurrogateWeights = {}, references?: readonly string[]): Scorer {
  return {
    score(outcome, rowsIn) {
      const n = outcome.kind === 'ranks' ? outcome.ranks.length : outcome.kind === 'texts' ? outcome.texts.length : outcome.loss.length;
      const rows = rowsIn ?? Int32Array.from({ length: n }, (_, i) => i);
      if (rows.length === 0) return 0;
      if (criterion === 'loss') {
        if (outcome.kind !== 'loss') fail('search', `the loss criterion needs losses, got ${outcome.kind}`);
        return -mean(pick(outcome.loss, rows));
      }
      if (task === 'explanation' && outcome.kind !== 'texts') fail('search', `explanation needs generated texts, got ${outcome.kind}`);
      if (task !== 'explanation' && outcome.kind !== 'ranks') fail('search', `${task} needs target ranks, got ${outcome.kind}`);
      if (outcome.kind === 'texts' && !references) fail('search', 'explanation scoring needs the validation references');
      const part: RowOutcomes =
        outcome.kind === 'ranks' ? { kind: 'ranks', ranks: Int32Array.from(pick(outcome.ranks, rows)) } : { kind: 'texts', texts: pick((outcome as { texts: string[] }).texts, rows) };
      const refs = references ? pick(references, rows) : undefined;
      if (criterion === 'surrogate') {
        return part.kind === 'ranks' ? surrogate(task, part.ranks, weights) : surrogate(task, { hypotheses: part.texts, references: refs! }, weights);
      }
      const m = testMeasure(task, part, refs).metrics;
      return metricNames(task).filter((name) => name !== 'HR@1').reduce((s, name) => s + m[name]!, 0);
    },
  };
}
