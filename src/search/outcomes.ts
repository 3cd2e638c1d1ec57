/**
 * The search's side of outcomes: rows of a mixed assignment composed from several passes (per-user acceptance),
 * outcomes to and from JSON (state.json), and each user's validation rows. Scoring lives in src/protocol.
 */
import { fail } from '../errors.js';
import type { RowOutcomes } from './types.js';

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
