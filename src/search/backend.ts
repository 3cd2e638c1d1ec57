/**
 * SearchBackend over the engine: a validation set and a training set resident on the backbone's device. A prompt
 * change sends only slot ids (DESIGN.md "the one idea"); the k candidates of a round go down in one evaluate call,
 * and a round's candidates come back from one native call (gradient, vocabulary scores, top-k) as token ids.
 */
import type { ExampleSet, Tokenizer } from '../types.js';
import type { ResidentExampleSet } from '../engine/index.js';
import { decodeTexts, type Decoding, type RowOutcomes, type Scorer } from '../protocol/index.js';
import { rowsByUser } from './outcomes.js';
import type { Assignment, SearchBackend, TrainingPool, UserCandidates, UserAcceptRows } from './types.js';

export interface EngineBackendOptions {
  /** Both uploaded with the tokenizer's word-start mask (the tokens allowed in a slot). */
  val: ResidentExampleSet;
  train: ResidentExampleSet;
  valSet: Pick<ExampleSet, 'userIndex' | 'numUsers' | 'numTaskSlots' | 'hasUserSlot'>;
  /** The selection pass (selectionDecoding); undefined = the loss criterion. */
  decoding: Decoding | undefined;
  tokenizer: Pick<Tokenizer, 'decode'>;
  /** Training rows per task-gradient pass (seeded); undefined = all. Per-user gradients always use all. */
  gradientSample?: number;
  /** The pool's training rows (SearchOptions.pool > k), resident, with the user index of each row. */
  pool?: { rows: ResidentExampleSet; userIndex: Int32Array };
  /** Each user's last training row (SearchOptions.userAccept last-train), resident, decoded like validation, scored by `scorer`. */
  check?: { rows: ResidentExampleSet; userIndex: Int32Array; scorer: Scorer };
}

export class EngineBackend implements SearchBackend {
  readonly numTaskSlots: number;
  readonly personalized: boolean;
  readonly numUsers: number;
  readonly valUserIndex: Int32Array;
  readonly pool?: TrainingPool;
  readonly userAcceptRows?: UserAcceptRows;

  constructor(private readonly o: EngineBackendOptions) {
    this.numTaskSlots = o.valSet.numTaskSlots;
    this.personalized = o.valSet.hasUserSlot;
    this.numUsers = o.valSet.numUsers;
    this.valUserIndex = o.valSet.userIndex;
    const pool = o.pool;
    if (pool) this.pool = { userIndex: pool.userIndex, loss: (assignments) => pool.rows.loss([...assignments]) };
    const check = o.check;
    if (check) this.userAcceptRows = userAcceptRows(check, this.numUsers, (assignments) => this.outcomes(check.rows, assignments));
  }

  /** Outcomes of every assignment on a resident set, decoded as the selection pass decodes. */
  private async outcomes(set: ResidentExampleSet, assignments: readonly Assignment[]): Promise<RowOutcomes[]> {
    const d = this.o.decoding;
    if (!d) return (await set.loss([...assignments])).map((loss) => ({ kind: 'loss', loss }));
    const outs = await set.evaluate([...assignments], { numBeams: d.numBeams, numReturnSequences: d.numReturnSequences, maxLength: d.maxLength, outcome: d.outcome });
    if (d.outcome === 'ranks') return outs.map((ranks) => ({ kind: 'ranks', ranks }));
    return outs.map((ids) => ({ kind: 'texts', texts: decodeTexts(ids, set.size, this.o.tokenizer) }));
  }

  async evaluate(assignments: readonly Assignment[]): Promise<RowOutcomes[]> {
    return this.outcomes(this.o.val, assignments);
  }

  async taskCandidates(a: Assignment, k: number, sampleSeed: number): Promise<Int32Array> {
    const { train, gradientSample } = this.o;
    const sample = gradientSample !== undefined && gradientSample < train.size ? gradientSample : undefined;
    return (await train.candidates(a, { k, ...(sample ? { sample, seed: sampleSeed } : {}) })).task;
  }

  async userCandidates(a: Assignment, k: number): Promise<UserCandidates> {
    const c = await this.o.train.candidates(a, { k, perUser: true });
    if (!c.user || !c.userCounts) throw new Error('candidates: the engine returned no per-user candidates for a personalized set');
    return { candidates: c.user, hasData: Uint8Array.from(c.userCounts, (n) => (n > 0 ? 1 : 0)) };
  }
}

/**
 * `--user-accept last-train`: per assignment, each user's score on its own check rows (NaN for a user with none),
 * scored from `outcomes`, the check set decoded as the selection pass decodes (one process or gathered from ranks).
 */
export function userAcceptRows(
  check: { userIndex: Int32Array; scorer: Scorer },
  numUsers: number,
  outcomes: (assignments: readonly Assignment[]) => Promise<RowOutcomes[]>,
): UserAcceptRows {
  const userRows = rowsByUser(check.userIndex, numUsers);
  return {
    scores: async (assignments) =>
      (await outcomes(assignments)).map((out) => Float64Array.from(userRows, (rows) => (rows.length === 0 ? NaN : check.scorer.score(out, rows)))),
  };
}
