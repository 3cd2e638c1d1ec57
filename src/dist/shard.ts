/**
 * Users sharded by rank: user u belongs to rank u mod world, and with it every row (example) of u, in every split.
 * A user's per-user token, gradient and acceptance (Eq. 8, Eq. 11) then never leave its rank; rows whose outcome is
 * needed everywhere (the validation outcomes, the pool's losses) are gathered back into the one-process order.
 */
import { PaprecError } from '../errors.js';
import type { ExampleSet } from '../types.js';
import { subsetExampleSet } from '../prompts/exampleSet.js';
import type { Assignment } from '../engine/index.js';
import type { ProcessGroup } from './group.js';

/** The rows of an example set that each rank owns: rank r holds rows[r] (global row ids, ascending). */
export interface RowShard {
  world: number;
  rank: number;
  /** Rows of the whole set. */
  size: number;
  rows: Int32Array[];
}

/** Rank of user u. */
export const userRank = (u: number, world: number): number => u % world;

/** The users of rank `rank` (ascending): a personalized assignment's local user table. */
export function rankUsers(numUsers: number, world: number, rank: number): Int32Array {
  const out: number[] = [];
  for (let u = rank; u < numUsers; u += world) out.push(u);
  return Int32Array.from(out);
}

/** Rows by the rank of their user (a row without a user, index < 0, by its own index). */
export function shardRows(userIndex: Int32Array, world: number, rank: number): RowShard {
  const lists: number[][] = Array.from({ length: world }, () => []);
  userIndex.forEach((u, i) => lists[userRank(u >= 0 ? u : i, world)]!.push(i));
  return { world, rank, size: userIndex.length, rows: lists.map((l) => Int32Array.from(l)) };
}

/** This rank's rows of `set`, its users renumbered to the local table (rankUsers order). */
export function localExampleSet(set: ExampleSet, shard: RowShard): ExampleSet {
  const sub = subsetExampleSet(set, shard.rows[shard.rank]!);
  const userIndex = sub.userIndex.map((u) => (u >= 0 ? Math.floor(u / shard.world) : u));
  return { ...sub, userIndex, numUsers: rankUsers(set.numUsers, shard.world, shard.rank).length };
}

/** A global assignment as this rank's engine sees it: the user table cut to the rank's users. */
export function localAssignment(a: Assignment, users: Int32Array): Assignment {
  if (!a.userTokens) return a;
  const userTokens = new Int32Array(users.length);
  users.forEach((u, i) => (userTokens[i] = a.userTokens![u]!));
  return { ...a, userTokens };
}

type Values = Int32Array | Float32Array;

/**
 * Per-row results of `count` passes from every rank, back in the whole set's row order: `local` holds, per pass,
 * `per` values for each of this rank's rows. One all-gather (each rank's part padded to the largest).
 */
export async function gatherRows<T extends Values>(group: ProcessGroup, shard: RowShard, local: T[], per: number): Promise<T[]> {
  const count = local.length;
  if (count === 0) return [];
  const mine = shard.rows[shard.rank]!.length;
  const widest = Math.max(...shard.rows.map((r) => r.length));
  const make = (n: number) => (local[0] instanceof Float32Array ? new Float32Array(n) : new Int32Array(n)) as T;
  const send = make(count * widest * per);
  local.forEach((v, c) => {
    if (v.length !== mine * per) throw new PaprecError(`gatherRows: pass ${c} has ${v.length} values, expected ${mine} rows x ${per}`);
    send.set(v, c * widest * per);
  });
  const all = await group.allGather(send);
  return Array.from({ length: count }, (_, c) => {
    const out = make(shard.size * per);
    shard.rows.forEach((rows, r) => {
      const base = (r * count + c) * widest * per;
      rows.forEach((row, i) => out.set(all.subarray(base + i * per, base + (i + 1) * per), row * per));
    });
    return out;
  });
}

/** Per-user values (`per` each) of every rank's local users, back in global user order. */
export async function gatherUsers(group: ProcessGroup, numUsers: number, local: Int32Array, per: number): Promise<Int32Array> {
  const world = group.world;
  const users = Array.from({ length: world }, (_, r) => rankUsers(numUsers, world, r));
  const [out] = await gatherRows(group, { world, rank: group.rank, size: numUsers, rows: users }, [local], per);
  return out!;
}
