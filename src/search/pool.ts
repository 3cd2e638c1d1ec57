/**
 * Wider candidate pools (issue #18 item 5, what the GCG line of work does): each round takes the top B > k tokens by
 * the gradient score, ranks them by the TRAINING loss in one batched pass over a small resident sample of training
 * rows, and hands only the best k to the selection criterion, as the paper does with its k. B = k is the paper's
 * exact procedure: no sample, no loss pass.
 */
import { rngFor } from '../data/rng.js';
import { rowsByUser } from './outcomes.js';

/**
 * The pool's training rows: `size` rows drawn round-robin over users (users in a seeded order, each user's rows in a
 * seeded order), so the sample covers min(size, users) users and every user it covers has rows of its own for the
 * per-user ranking (Eq. 8). Sorted; all rows when `size` is at least the set.
 */
export function poolSampleRows(userIndex: Int32Array, numUsers: number, size: number, seed: number, search: string): Int32Array {
  if (size >= userIndex.length) return Int32Array.from(userIndex, (_, i) => i);
  const rng = rngFor(seed, 'pool-rows', search);
  const perUser = rowsByUser(userIndex, numUsers).map((rows) => rng.shuffle(Array.from(rows))).filter((rows) => rows.length > 0);
  const users = rng.shuffle(perUser);
  const out: number[] = [];
  for (let depth = 0; out.length < size; depth++) {
    for (const rows of users) if (depth < rows.length && out.length < size) out.push(rows[depth]!);
  }
  return Int32Array.from(out).sort();
}

/** Mean of the per-row losses over `rows` (every row when omitted). */
export function meanLoss(loss: Float32Array, rows?: ArrayLike<number>): number {
  const n = rows ? rows.length : loss.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += loss[rows ? rows[i]! : i]!;
  return sum / n;
}

/** Candidate indices by training loss, lowest first; equal losses keep the gradient's order. */
export function lossOrder(losses: readonly number[]): number[] {
  return losses.map((_, i) => i).sort((a, b) => losses[a]! - losses[b]! || a - b);
}
