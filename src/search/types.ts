/**
 * The vocabulary of the PAP-REC search (paper §3-§4, REFERENCE.md §4): assignments of trigger tokens to slots,
 * the per-row outcomes a validation pass returns (src/protocol), and the narrow engine surface the search needs. The
 * search itself is engine-agnostic: `SearchBackend` is implemented over the native engine in backend.ts.
 */
export type { Assignment } from '../engine/index.js';
export type { RowOutcomes, Scorer } from '../protocol/index.js';
import type { Assignment } from '../engine/index.js';
import type { RowOutcomes } from '../protocol/index.js';

/** Candidate sets of Eq. 6 / Eq. 8 computed from one gradient pass over the training examples. */
export interface UserCandidates {
  /** [numUsers, k] token ids, best first, each user's current token excluded. */
  candidates: Int32Array;
  /** 1 for users with training examples; users without keep their token (paper: the default `?`). */
  hasData: Uint8Array;
}

/** A small resident sample of training rows that ranks a wider candidate pool by the training loss (SearchOptions.pool). */
export interface TrainingPool {
  /** 0-based user index of each pool row. */
  readonly userIndex: Int32Array;
  /** Per-row P5 training loss of every assignment, [rows] each, in one batched pass. */
  loss(assignments: readonly Assignment[]): Promise<Float32Array[]>;
}

/**
 * The rows of `--user-accept last-train`: each user's score on its last training example under every assignment, in
 * one batched pass. NaN for a user without training rows.
 */
export interface UserAcceptRows {
  scores(assignments: readonly Assignment[]): Promise<Float64Array[]>;
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
   * set (or the seeded sample `sampleSeed` picks); slot s's current token is never a candidate. [numTaskSlots, k].
   */
  taskCandidates(a: Assignment, k: number, sampleSeed: number): Promise<Int32Array>;
  /** Top-k candidates per user (Eq. 8) from all of each user's own training examples; the current token excluded. */
  userCandidates(a: Assignment, k: number): Promise<UserCandidates>;
  /** The training rows that rank a pool of B > k candidates; needed only by searches with such a pool. */
  readonly pool?: TrainingPool;
  /** Needed only by personalized searches with `userAccept: 'last-train'`. */
  readonly userAcceptRows?: UserAcceptRows;
}
