/**
 * The popularity baseline of `paprec eval --baseline popular`: items ranked by how often they occur in the training
 * split (every item of a user's sequence except the last two, which are the validation and test targets), counted
 * over the loaded users. Nothing is excluded, not even items the user already bought. Sequential: the rank of the
 * target among all items; matching: its rank among the example's candidates. Ties go to the smaller item id.
 */
import type { Dataset } from '../types.js';
import type { PromptExample } from '../prompts/index.js';
import { fail } from '../errors.js';

export function trainingPopularity(dataset: Dataset): Float64Array {
  const counts = new Float64Array(dataset.numItems + 1);
  for (const u of dataset.users) for (const item of u.items.slice(0, Math.max(0, u.items.length - 2))) counts[item]! += 1;
  return counts;
}

/** 1-based rank of each example's target under the popularity order (0 when the target is not a candidate). */
export function popularRanks(dataset: Dataset, examples: readonly PromptExample[]): Int32Array {
  const counts = trainingPopularity(dataset);
  const before = (a: number, b: number) => counts[b]! - counts[a]! || a - b;
  const order = Array.from({ length: dataset.numItems }, (_, i) => i + 1).sort(before);
  const globalRank = new Int32Array(dataset.numItems + 1);
  order.forEach((item, i) => (globalRank[item] = i + 1));
  return Int32Array.from(examples, (ex, i) => {
    const target = Number(ex.target);
    if (!Number.isInteger(target) || target < 1 || target > dataset.numItems) {
      fail('popular baseline', `example ${i}: target "${ex.target}" is not an item id`);
    }
    if (ex.task === 'matching') {
      const candidates = ex.candidates ?? [];
      if (!candidates.includes(target)) return 0;
      return 1 + candidates.filter((c) => c !== target && before(c, target) < 0).length;
    }
    if (ex.task !== 'sequential') fail('popular baseline', `task ${ex.task} is not a ranking task`);
    return globalRank[target]!;
  });
}
