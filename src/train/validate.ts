/**
 * Validation during pretraining: the P5 loss on the validation split of the sequential task under the seen prompt
 * 2-3 and, when a ranker is given (beam search), HR@5 / NDCG@5 and the surrogate of the same examples, decoded as
 * the search's selection pass decodes (src/protocol).
 */
import type { Backbone } from '../backbone/backbone.js';
import { surrogate } from '../metrics/surrogate.js';
import { rankingMeasure } from '../protocol/measure.js';
import { selectionDecoding, type Decoding } from '../protocol/decoding.js';
import { rngFor } from '../data/rng.js';
import { buildExampleSet, subsetExampleSet } from '../prompts/exampleSet.js';
import { manualPrompt } from '../prompts/manual.js';
import type { Dataset, ExampleSet, Tokenizer } from '../types.js';
import type { ProcessGroup } from '../dist/group.js';
import { gatherRows, shardRows } from '../dist/shard.js';
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

/**
 * The validation rows of `users` users drawn uniformly (seeded, kept in id order), or of every user when there are no
 * more. Never users 1..N: P5 numbers items by first appearance, so the first users' next items are new ids far more
 * often than the rest's (on Beauty the validation target is the largest history id + 1 for 43% of users 1..1,000
 * and for 3.4% of all users), and a backbone chosen on them is chosen for that rule.
 */
export function validationSet(ds: Dataset, tokenizer: Tokenizer, users: number, seed = 1): ExampleSet {
  const all = buildExampleSet(ds, tokenizer, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3') });
  if (users >= all.size) return all;
  const rows = rngFor(seed, 'validation-users').shuffle(Array.from({ length: all.size }, (_, i) => i)).slice(0, users);
  return subsetExampleSet(all, rows.sort((a, b) => a - b));
}

/**
 * In a process group each rank validates its users' rows (dist/shard) and the per-row losses and ranks are gathered
 * back into one-process order, so every rank computes the same numbers as one process would, at 1/world the cost.
 */
export async function validate(
  trainer: BackboneTrainer,
  set: ExampleSet,
  opts: { batchSize: number; ranker?: Ranker; beams?: number; group?: ProcessGroup },
): Promise<Validation> {
  const group = opts.group !== undefined && opts.group.world > 1 ? opts.group : undefined;
  const shard = group ? shardRows(set.userIndex, group.world, group.rank) : undefined;
  const mine = shard ? subsetExampleSet(set, shard.rows[shard.rank]!) : set;
  const gather = async <T extends Float32Array | Int32Array>(local: T): Promise<T> => (group && shard ? (await gatherRows(group, shard, [local], 1))[0]! : local);
  const losses = await gather(mine.size > 0 ? await trainer.evaluateLoss(trainer.upload(mine), opts.batchSize) : new Float32Array(0));
  let sum = 0;
  for (const l of losses) sum += l;
  const out: Validation = { loss: sum / Math.max(1, losses.length) };
  if (opts.ranker) {
    const decoding = selectionDecoding('sequential', 'surrogate', opts.beams !== undefined ? { beams: opts.beams } : {})!;
    const ranks = await gather(mine.size > 0 ? await opts.ranker(trainer.backbone, mine, decoding) : new Int32Array(0));
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
