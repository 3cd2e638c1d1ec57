/**
 * The vocabulary of the PAP-REC search (paper §3-§4, REFERENCE.md §4): assignments of trigger tokens to slots,
 * the per-row outcomes a validation pass returns, and the narrow engine surface the search needs. The search
 * itself is engine-agnostic: `SearchBackend` is implemented over the native engine in backend.ts.
 */

/** Token ids for the prompt's slots: [T_r1..T_rl] and, when personalized, [T_u] per user (index = user id - 1). */
export interface Assignment {
  taskTokens: Int32Array;
  userTokens?: Int32Array;
}

/**
 * What one validation pass yields, row by row, for the selection criterion in use:
 * target ranks (ranking tasks, 0 = missed), generated texts (explanation), or per-row P5 loss.
 */
export type RowOutcomes =
  | { kind: 'ranks'; ranks: Int32Array }
  | { kind: 'texts'; texts: string[] }
  | { kind: 'loss'; loss: Float32Array };

/** Candidate sets of Eq. 6 / Eq. 8 computed from one gradient pass over the training examples. */
export interface UserCandidates {
  /** [numUsers, k] token ids, best first. */
  candidates: Int32Array;
  /** 1 for users with training examples; users without keep their token (paper: the default `?`). */
  hasData: Uint8Array;
}

/** The engine surface one search uses: one validation set and one training set of the same prompt shape. */
export interface SearchBackend {
  readonly numTaskSlots: number;
  readonly personalized: boolean;
  /** Number of users of the per-user table. */
  readonly numUsers: number;
  /** Validation rows: 0-based user index of each row. */
  readonly valUserIndex: Int32Array;
  /** Validation outcomes of every assignment, scored in one batched pass. */
  evaluate(assignments: readonly Assignment[]): Promise<RowOutcomes[]>;
  /**
   * Top-k candidates for every task slot (Eq. 6), from the loss gradient at the slot averaged over the training
   * set (or the seeded sample `sampleSeed` picks). `exclude[s]` is slot s's current token, never a candidate.
   * Returns [numTaskSlots, k].
   */
  taskCandidates(a: Assignment, k: number, exclude: Int32Array, sampleSeed: number): Promise<Int32Array>;
  /** Top-k candidates per user (Eq. 8) from each user's own training examples; the user's current token excluded. */
  userCandidates(a: Assignment, k: number, sampleSeed: number): Promise<UserCandidates>;
}

/** A search's score of an outcome on a set of rows (all rows when `rows` is absent). Higher is better. */
export interface Scorer {
  score(outcome: RowOutcomes, rows?: ArrayLike<number>): number;
}
