/**
 * SearchBackend over several processes (users sharded by rank, src/dist/shard.ts): each rank holds its users' rows
 * resident; the task-slot gradient sums are all-reduced inside the engine's candidates call (so every rank ranks the
 * same mean gradient), the validation outcomes and the pool's losses are gathered back into the one-process row
 * order, and the per-user candidates into the one-process user order. PapRecSearch above it is unchanged: every rank
 * sees the same numbers and takes the same accept / reject decision.
 */
import type { Tokenizer } from '../types.js';
import type { ResidentExampleSet } from '../engine/index.js';
import { native } from '../native.js';
import { decodeTexts, type Decoding, type RowOutcomes, type Scorer } from '../protocol/index.js';
import { userAcceptRows } from '../search/backend.js';
import type { Assignment, SearchBackend, TrainingPool, UserAcceptRows, UserCandidates } from '../search/types.js';
import type { ProcessGroup } from './group.js';
import { gatherRows, gatherUsers, localAssignment, rankUsers, type RowShard } from './shard.js';

/** A rank's part of an example set: resident (absent when the rank has no rows of it) and where its rows go. */
export interface ShardedSet {
  resident: ResidentExampleSet | undefined;
  shard: RowShard;
}

export interface ShardedBackendOptions {
  group: ProcessGroup;
  val: ShardedSet;
  train: ShardedSet & { resident: ResidentExampleSet };
  /** The whole validation set's shape. */
  valSet: { userIndex: Int32Array; numUsers: number; numTaskSlots: number; hasUserSlot: boolean };
  decoding: Decoding | undefined;
  tokenizer: Pick<Tokenizer, 'decode'>;
  gradientSample?: number;
  /** The pool's rows (SearchOptions.pool > k) and the user of each pool row (whole pool). */
  pool?: ShardedSet & { userIndex: Int32Array };
  /** Each user's last training row (SearchOptions.userAccept last-train), with the user of each row (whole set). */
  check?: ShardedSet & { userIndex: Int32Array; scorer: Scorer };
}

export class ShardedBackend implements SearchBackend {
  readonly numTaskSlots: number;
  readonly personalized: boolean;
  readonly numUsers: number;
  readonly valUserIndex: Int32Array;
  readonly pool?: TrainingPool;
  readonly userAcceptRows?: UserAcceptRows;
  private readonly users: Int32Array;
  /** Global training row -> this rank's row, -1 for rows of other ranks. */
  private readonly trainLocal: Int32Array;

  constructor(private readonly o: ShardedBackendOptions) {
    this.numTaskSlots = o.valSet.numTaskSlots;
    this.personalized = o.valSet.hasUserSlot;
    this.numUsers = o.valSet.numUsers;
    this.valUserIndex = o.valSet.userIndex;
    this.users = rankUsers(this.numUsers, o.group.world, o.group.rank);
    const t = o.train.shard;
    this.trainLocal = new Int32Array(t.size).fill(-1);
    t.rows[t.rank]!.forEach((row, i) => (this.trainLocal[row] = i));
    const pool = o.pool;
    if (pool) {
      this.pool = {
        userIndex: pool.userIndex,
        loss: async (assignments) => {
          const local = pool.resident ? await pool.resident.loss(assignments.map((a) => this.local(a))) : assignments.map(() => new Float32Array(0));
          return gatherRows(o.group, pool.shard, local, 1);
        },
      };
    }
    const check = o.check;
    if (check) this.userAcceptRows = userAcceptRows(check, this.numUsers, (assignments) => this.outcomes(check, assignments));
  }

  private local(a: Assignment): Assignment {
    return localAssignment(a, this.users);
  }

  /** Outcomes of every assignment on a sharded set, decoded as the selection pass decodes, in one-process row order. */
  private async outcomes(set: ShardedSet, assignments: readonly Assignment[]): Promise<RowOutcomes[]> {
    const { decoding: d, group } = this.o;
    const local = assignments.map((a) => this.local(a));
    if (!d) {
      const losses = set.resident ? await set.resident.loss(local) : local.map(() => new Float32Array(0));
      return (await gatherRows(group, set.shard, losses, 1)).map((loss) => ({ kind: 'loss', loss }));
    }
    const per = d.outcome === 'ranks' ? 1 : d.maxLength - 1;
    const outs = set.resident
      ? await set.resident.evaluate(local, { numBeams: d.numBeams, numReturnSequences: d.numReturnSequences, maxLength: d.maxLength, outcome: d.outcome })
      : local.map(() => new Int32Array(0));
    const all = await gatherRows(group, set.shard, outs, per);
    if (d.outcome === 'ranks') return all.map((ranks) => ({ kind: 'ranks', ranks }));
    return all.map((ids) => ({ kind: 'texts', texts: decodeTexts(ids, set.shard.size, this.o.tokenizer) }));
  }

  async evaluate(assignments: readonly Assignment[]): Promise<RowOutcomes[]> {
    return this.outcomes(this.o.val, assignments);
  }

  async taskCandidates(a: Assignment, k: number, sampleSeed: number): Promise<Int32Array> {
    const { train, gradientSample, group } = this.o;
    const size = train.shard.size;
    let rows: Int32Array | undefined;
    if (gradientSample !== undefined && gradientSample < size) {
      // The one-process sample over the whole set; each rank takes its rows of it.
      const drawn = native().sampleRows(size, gradientSample, sampleSeed);
      rows = Int32Array.from(Array.from(drawn, (r) => this.trainLocal[r]!).filter((r) => r >= 0));
    }
    return (await train.resident.candidates(this.local(a), { k, reduce: group.native, ...(rows ? { rows } : {}) })).task;
  }

  async userCandidates(a: Assignment, k: number): Promise<UserCandidates> {
    const { train, group } = this.o;
    const c = await train.resident.candidates(this.local(a), { k, perUser: true, reduce: group.native });
    if (!c.user || !c.userCounts) throw new Error('candidates: the engine returned no per-user candidates for a personalized set');
    // Per local user: its k candidates, then its training-row count.
    const n = this.users.length;
    const packed = new Int32Array(n * (k + 1));
    for (let i = 0; i < n; i++) {
      packed.set(c.user.subarray(i * k, (i + 1) * k), i * (k + 1));
      packed[i * (k + 1) + k] = c.userCounts[i]!;
    }
    const all = await gatherUsers(group, this.numUsers, packed, k + 1);
    const candidates = new Int32Array(this.numUsers * k);
    const hasData = new Uint8Array(this.numUsers);
    for (let u = 0; u < this.numUsers; u++) {
      candidates.set(all.subarray(u * (k + 1), u * (k + 1) + k), u * k);
      hasData[u] = all[u * (k + 1) + k]! > 0 ? 1 : 0;
    }
    return { candidates, hasData };
  }
}
