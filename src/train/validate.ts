/**
 * Validation during pretraining: the P5 loss on the validation split of the sequential task under the seen prompt
 * 2-3 and, when a ranker is given (beam search), HR@5 / NDCG@5 and the surrogate of the same examples, decoded as
 * the search's selection pass decodes (src/protocol).
 */
import type { Backbone } from '../backbone/backbone.js';
import { surrogate } from '../metrics/surrogate.js';
import { rankingMeasure } from '../protocol/measure.js';
import { selectionDecoding, type Decoding } from '../protocol/decoding.js';
import { buildExampleSet } from '../prompts/exampleSet.js';
import { manualPrompt } from '../prompts/manual.js';
import type { Dataset, ExampleSet, Tokenizer } from '../types.js';
import type { BackboneTrainer } from './trainer.js';

/** 1-based rank of each row's target among the sequences `decoding` returns, 0 when missed. */
export type Ranker = (backbone: Backbone, set: ExampleSet, decoding: Decoding) => Promise<Int32Array>;

export interface Validation {
  loss: number;
  hr5?: number;
  ndcg5?: number;
  /** The search's surrogate (HR@5 + NDCG@5, §4.2) of the same ranks. */
  surrogate?: number;
}

export function validationSet(ds: Dataset, tokenizer: Tokenizer, users: number): ExampleSet {
  return buildExampleSet(ds, tokenizer, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3'), maxUsers: users });
}

export async function validate(
  trainer: BackboneTrainer,
  set: ExampleSet,
  opts: { batchSize: number; ranker?: Ranker; beams?: number },
): Promise<Validation> {
  const losses = await trainer.evaluateLoss(trainer.upload(set), opts.batchSize);
  let sum = 0;
  for (const l of losses) sum += l;
  const out: Validation = { loss: sum / Math.max(1, losses.length) };
  if (opts.ranker) {
    const ranks = await opts.ranker(trainer.backbone, set, selectionDecoding('sequential', 'surrogate', opts.beams !== undefined ? { beams: opts.beams } : {})!);
    const m = rankingMeasure('sequential', ranks).metrics;
    out.hr5 = m['HR@5']!;
    out.ndcg5 = m['NDCG@5']!;
    out.surrogate = surrogate('sequential', ranks);
  }
  return out;
}

/** Which validation number picks the kept epoch: the surrogate HR@5 + NDCG@5 (ties: loss), or the loss alone. */
export type KeepBestBy = 'surrogate' | 'loss';
export const KEEP_BEST_BY: readonly KeepBestBy[] = ['surrogate', 'loss'];

/**
 * The ordering of validations: HR@5 + NDCG@5 first (when measured), lower loss breaks ties; or the loss alone, for
 * a backbone whose few validation hits are noise (a handful of hits among 1,000 users).
 */
export function isBetter(a: Validation, b: Validation | undefined, by: KeepBestBy = 'surrogate'): boolean {
  if (!b) return true;
  if (by === 'loss') return a.loss < b.loss;
  const sa = a.surrogate ?? 0;
  const sb = b.surrogate ?? 0;
  if (sa !== sb) return sa > sb;
  return a.loss < b.loss;
}
