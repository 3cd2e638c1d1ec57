/**
 * The surrogate metrics of PAP-REC §4.2 that decide whether a candidate prompt is accepted:
 * HR@5 + alpha_seq * NDCG@5 for sequential and matching, BLEU-4 + alpha_exp * ROUGE-L for explanation.
 * Ranking terms are fractions and text terms x100 (as P5 reports each); only comparisons within a task matter.
 */
import type { Task } from '../types.js';
import { fail } from '../errors.js';
import { bleu4 } from './bleu.js';
import { hitRate, ndcg } from './ranking.js';
import { rouge } from './rouge.js';

export interface SurrogateWeights {
  /** alpha_seq, weight of NDCG@5 (default 1). */
  alphaSeq?: number;
  /** alpha_exp, weight of ROUGE-L (default 0.1). */
  alphaExp?: number;
}

/** What the engine returns for a task: ranks (sequential, matching) or generated texts with their references. */
export type Outcome = ArrayLike<number> | { hypotheses: readonly string[]; references: readonly string[] };

export const SURROGATE_K = 5;

export function surrogate(task: Task, outcome: Outcome, weights: SurrogateWeights = {}): number {
  if (task === 'explanation') {
    if (!('hypotheses' in outcome)) fail('surrogate', 'explanation needs {hypotheses, references}, got ranks');
    const alpha = weights.alphaExp ?? 0.1;
    return bleu4(outcome.hypotheses, outcome.references) + alpha * rouge(outcome.hypotheses, outcome.references).rougeL;
  }
  if ('hypotheses' in outcome) fail('surrogate', `${task} needs ranks, got texts`);
  const alpha = weights.alphaSeq ?? 1;
  return hitRate(outcome, SURROGATE_K) + alpha * ndcg(outcome, SURROGATE_K);
}
