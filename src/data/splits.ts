import { PaprecError } from '../errors.js';
import type { Dataset, Split } from '../types.js';
import { type Rng, rngFor } from './rng.js';

/**
 * Leave-last-out splits of P5 (REFERENCE.md §2): per user, the test target is the last item, the validation target
 * the second-to-last, and training uses the items before the validation target. Every random choice is drawn from an
 * RNG keyed on (dataset seed, what, user, split, ...), so each call returns the same lists in the same order.
 */

/** P5 keeps the 20 most recent items of a history. */
export const MAX_HISTORY = 20;

export interface SequentialExample {
  user: number;
  /** items before the target, oldest first, at most maxHistory of the most recent ones */
  history: number[];
  target: number;
}

export interface MatchingExample {
  user: number;
  /** the target and the user's negatives, shuffled */
  candidates: number[];
  target: number;
}

export interface ExplanationExample {
  user: number;
  item: number;
  rating: number;
  explanation: string;
  feature?: string;
  title?: string;
}

/** Index of the target of `split` in a sequence of length n (train has many; see trainTargets). */
function heldOutIndex(n: number, split: 'val' | 'test'): number {
  return split === 'test' ? n - 1 : n - 2;
}

function historyBefore(items: readonly number[], t: number, maxHistory: number): number[] {
  return items.slice(Math.max(0, t - maxHistory), t);
}

function checkMaxHistory(maxHistory: number): void {
  if (!Number.isInteger(maxHistory) || maxHistory < 1) throw new PaprecError(`maxHistory must be a positive integer, got ${maxHistory}`);
}

/**
 * Sequential recommendation examples. val / test: one per user. train: every prefix window over the training items
 * (those before the validation target): target items[t] for t >= 1, history items[max(0, t - maxHistory) .. t).
 */
export function sequentialExamples(ds: Dataset, split: Split, maxHistory = MAX_HISTORY): SequentialExample[] {
  checkMaxHistory(maxHistory);
  const out: SequentialExample[] = [];
  for (const u of ds.users) {
    const n = u.items.length;
    if (split === 'train') {
      for (let t = 1; t < n - 2; t++) out.push({ user: u.id, history: historyBefore(u.items, t, maxHistory), target: u.items[t] as number });
    } else {
      const t = heldOutIndex(n, split);
      out.push({ user: u.id, history: historyBefore(u.items, t, maxHistory), target: u.items[t] as number });
    }
  }
  return out;
}

/** Number of training windows of a user with n items (targets at t = 1 .. n - 3). */
export function numTrainWindows(n: number): number {
  return Math.max(0, n - 3);
}

/**
 * One random training window of `user` (for backbone pretraining): a target drawn uniformly among the user's
 * training items after the first, with its history. Undefined when the user has no training window (3 items).
 */
export function sampleTrainWindow(ds: Dataset, user: number, rng: Rng, maxHistory = MAX_HISTORY): SequentialExample | undefined {
  checkMaxHistory(maxHistory);
  const u = ds.users[user - 1];
  if (u === undefined) throw new PaprecError(`sampleTrainWindow: no user ${user} in dataset ${ds.name} (1..${ds.users.length})`);
  const windows = numTrainWindows(u.items.length);
  if (windows === 0) return undefined;
  const t = 1 + rng.int(windows);
  return { user, history: historyBefore(u.items, t, maxHistory), target: u.items[t] as number };
}

/** The target, then the user's negatives, shuffled by an RNG keyed on (seed, user, split, index). */
function candidateList(ds: Dataset, user: number, split: Split, index: number, target: number): number[] {
  const negatives = ds.negatives[user - 1] ?? [];
  const list = [target, ...negatives.filter((x) => x !== target)];
  return rngFor(ds.seed, 'matching', user, split, index).shuffle(list);
}

/**
 * Matching (direct recommendation) examples: the target plus the user's negatives, shuffled. val / test: one per
 * user with the held-out target. train: one per training item (every item before the validation target), since
 * matching needs no history.
 */
export function matchingExamples(ds: Dataset, split: Split): MatchingExample[] {
  const out: MatchingExample[] = [];
  for (const u of ds.users) {
    const n = u.items.length;
    if (split === 'train') {
      for (let t = 0; t < n - 2; t++) {
        const target = u.items[t] as number;
        out.push({ user: u.id, candidates: candidateList(ds, u.id, split, t, target), target });
      }
    } else {
      const target = u.items[heldOutIndex(n, split)] as number;
      out.push({ user: u.id, candidates: candidateList(ds, u.id, split, 0, target), target });
    }
  }
  return out;
}

/** Explanation examples of a split, from exp_splits.pkl, with the item title when meta.json.gz gave one. */
export function explanationExamples(ds: Dataset, split: Split): ExplanationExample[] {
  if (!ds.reviews) {
    throw new PaprecError(`${ds.dir}: dataset ${ds.name} has no explanation data (exp_splits.pkl); the explanation task needs it`);
  }
  return ds.reviews[split].map((r) => {
    const ex: ExplanationExample = { user: r.user, item: r.item, rating: r.rating, explanation: r.explanation };
    if (r.feature !== undefined) ex.feature = r.feature;
    const title = ds.titles?.get(r.item);
    if (title !== undefined) ex.title = title;
    return ex;
  });
}
