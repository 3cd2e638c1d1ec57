/**
 * The shared vocabulary of paprec: the shapes that cross module boundaries.
 * Each module owns its implementation; these types are the contract between them.
 */

export type Task = 'sequential' | 'explanation' | 'matching';
export type Split = 'train' | 'val' | 'test';
export const TASKS: readonly Task[] = ['sequential', 'explanation', 'matching'];

/** Special token ids of T5 / P5. Decoding starts from pad. */
export const PAD_ID = 0;
export const EOS_ID = 1;
export const UNK_ID = 2;

/** What the rest of paprec needs from a tokenizer (src/tokenizer implements it). */
export interface Tokenizer {
  readonly vocabSize: number;
  /** Token ids of `text`, with `</s>` appended unless `addEos` is false. */
  encode(text: string, opts?: { addEos?: boolean }): number[];
  /** Text of `ids`; special tokens (pad, </s>) are dropped unless `skipSpecial` is false. */
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string;
  /** The piece string of one id (e.g. "▁item"). */
  idToPiece(id: number): string | undefined;
  pieceToId(piece: string): number | undefined;
  /** P5 whole-word ids of an encoded row (counter bumps at every `▁` piece; `</s>` and pad get 0). */
  wholeWordIds(ids: ArrayLike<number>): number[];
  /** 1 for ids allowed in a trigger slot: pieces starting with `▁`, no special tokens. Length = vocabSize. */
  wordStartMask(): Uint8Array;
  /** The tokenizer.json text (to save beside a model). */
  toJSON(): string;
}

/** One explanation record (P5's exp_splits.pkl entries). */
export interface Review {
  user: number; // 1-based P5 user id
  item: number; // 1-based P5 item id
  rating: number;
  explanation: string;
  feature?: string;
}

/** A P5 data folder, read once. Users and items are P5's 1-based integer ids. */
export interface Dataset {
  readonly dir: string;
  readonly name: string;
  /** users[u - 1] = { id: u, items: time-ordered item ids } */
  readonly users: ReadonlyArray<{ id: number; items: readonly number[] }>;
  readonly numItems: number; // largest item id
  /** 99 negatives per user (index = user id - 1). */
  readonly negatives: ReadonlyArray<readonly number[]>;
  /** Item titles by item id, when meta.json.gz is present. */
  readonly titles?: ReadonlyMap<number, string>;
  /** Explanation data by split, when exp_splits.pkl is present. */
  readonly reviews?: Readonly<Record<Split, readonly Review[]>>;
  readonly seed: number;
  stats(): DatasetStats;
}

export interface DatasetStats {
  users: number;
  items: number;
  interactions: number;
  sequenceLength: { min: number; max: number; mean: number; median: number };
  density: number;
}

/**
 * Token rows concatenated without padding, the one layout of examples the engine reads (example sets and training
 * data): row i spans [inputOffsets[i], inputOffsets[i+1]) of inputIds and wholeWordIds, and [targetOffsets[i],
 * targetOffsets[i+1]) of targetIds (each target ends with </s>).
 */
export interface RaggedRows {
  inputIds: Int32Array;
  inputOffsets: Int32Array; // rows + 1
  wholeWordIds: Int32Array; // same layout as inputIds
  targetIds: Int32Array;
  targetOffsets: Int32Array; // rows + 1
}

/**
 * Every example of a task and split rendered once, as ragged rows ready for one upload to the engine.
 * Slots: the `numTaskSlots` task-token slots come first, then the user slot when `hasUserSlot`.
 * The ids at slot positions are the rendering prompt's tokens; the engine overwrites them.
 */
export interface ExampleSet extends RaggedRows {
  task: Task;
  split: Split;
  size: number;
  numTaskSlots: number;
  hasUserSlot: boolean;
  slotPositions: Int32Array; // size * slotsPerRow, positions inside the row; -1 where a row has no such slot
  userIndex: Int32Array; // size: 0-based user index (user id - 1)
  numUsers: number;
  /** Explanation: the reference text of every row (for BLEU / ROUGE). */
  references?: string[];
}
