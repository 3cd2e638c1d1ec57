/**
 * The examples of a task and split, in the shape prompts read. The splits themselves (targets, history windows,
 * candidate lists) come from src/data; this adds the one random choice that belongs to rendering, the history
 * joiner, drawn from an RNG keyed on (seed, user, split, n) so that every prompt sees the same text.
 */
import type { Dataset, Split, Task } from '../types.js';
import { rngFor } from '../data/rng.js';
import { explanationExamples, matchingExamples, sequentialExamples } from '../data/splits.js';
import type { PromptExample } from './types.js';

export const HISTORY_JOINERS = [' , ', ' -> '] as const;

/**
 * P5 joined a history with ` , ` or ` -> `, chosen at random per example. Keying on the example (not drawing from
 * one stream) fixes the choice across validation passes, a defect of the research code (REFERENCE.md §7).
 * `n` numbers a user's examples within the split (training windows); it is 0 for validation and test.
 */
export function historyJoiner(seed: number, user: number, split: Split, n = 0): string {
  return HISTORY_JOINERS[rngFor(seed, 'history-joiner', user, split, n).int(HISTORY_JOINERS.length)]!;
}

export function promptExamples(dataset: Dataset, task: Task, split: Split, seed: number, maxUsers?: number): PromptExample[] {
  const keep = (user: number): boolean => maxUsers === undefined || user <= maxUsers;
  const out: PromptExample[] = [];
  switch (task) {
    case 'sequential': {
      const seen = new Map<number, number>();
      for (const e of sequentialExamples(dataset, split)) {
        if (!keep(e.user)) continue;
        const n = seen.get(e.user) ?? 0;
        seen.set(e.user, n + 1);
        out.push({ task, user: e.user, history: e.history, target: String(e.target), joiner: historyJoiner(seed, e.user, split, n) });
      }
      break;
    }
    case 'matching':
      for (const e of matchingExamples(dataset, split)) {
        if (!keep(e.user)) continue;
        out.push({ task, user: e.user, candidates: e.candidates, target: String(e.target), joiner: ' , ' });
      }
      break;
    case 'explanation':
      for (const e of explanationExamples(dataset, split)) {
        if (!keep(e.user)) continue;
        out.push({
          task,
          user: e.user,
          item: e.item,
          rating: e.rating,
          ...(e.title !== undefined ? { title: e.title } : {}),
          target: e.explanation,
          joiner: ' , ',
        });
      }
      break;
  }
  return out;
}
