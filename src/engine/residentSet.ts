/**
 * An example set resident on the engine's device: uploaded once, then evaluated for many prompts by sending only
 * the slot tokens (the engine splices them into the resident rows). Outcomes, not metrics, come back.
 */
import { PaprecError } from '../errors.js';
import type { ExampleSet, Task } from '../types.js';
import type { Backbone } from '../backbone/index.js';
import { native, type NativeExampleSet, type NativeGradientOptions } from '../native.js';

/** The slot tokens of one prompt. */
export interface Assignment {
  /** One token id per task slot (numTaskSlots). */
  taskTokens: Int32Array;
  /** One token id per user (numUsers), for personalized prompts; omitted = keep the rendered user-slot tokens. */
  userTokens?: Int32Array;
  /**
   * A soft prompt: [numTaskSlots * dModel] input embeddings that replace the task slots' token embeddings in the
   * encoder (whole-word embeddings are still added); beam search is otherwise unchanged. Wrong length or a
   * non-finite value is refused by the engine, naming slotEmbeddings.
   */
  slotEmbeddings?: Float32Array;
}

export interface UploadOptions {
  /** Shards of every pass (CUDA streams / CPU pool shards); default from the device, at most the batch count. */
  streams?: number;
  /** Examples per padded batch (beam search multiplies rows by numBeams). Default: CUDA 128, CPU 32 (H200: 2.4x faster than 32). */
  batchSize?: number;
  /** Tokens allowed in a slot (the tokenizer's wordStartMask); when given, its length must be the model's vocab. */
  slotMask?: Uint8Array;
  /** A token accepted in slots although the mask leaves it out (the prompt's default `?`, which may be a bare `▁`). */
  defaultToken?: number;
  /** The tokenizer's piece count: model rows from here on (T5 v1.1 keeps 32,128 for 32,100 pieces) are never generated. */
  vocabLimit?: number;
}

export interface EvaluateOptions {
  numBeams?: number; // default 20
  numReturnSequences?: number; // default 10 (at most numBeams)
  /** Counts the decoder start token (HF). Default 50 (P5's evaluation). */
  maxLength?: number;
  minLength?: number;
  earlyStopping?: boolean; // default true
  lengthPenalty?: number;
  /** Ranks of the target (default for sequential / matching) or generated ids (default for explanation). */
  outcome?: 'ranks' | 'ids';
  /** Whole-word embeddings in generation (default true; PAP-REC's code dropped them, a defect). */
  wholeWords?: boolean;
  streams?: number;
}

/** What a gradient pass reads: the native options, as they are. */
export type SlotGradientOptions = NativeGradientOptions;

/**
 * Each example contributes the gradient of its OWN P5 loss (sum of target NLL / target length) w.r.t. the input
 * embedding at a slot; `task` is the mean over the examples having each task slot, `user` the mean over each
 * user's examples (rows of users without examples are 0, with userCounts 0).
 */
export interface SlotGradients {
  task: Float32Array; // [numTaskSlots, dModel]
  taskCounts: Int32Array;
  user?: Float32Array; // [numUsers, dModel]
  userCounts?: Int32Array;
  /** Mean P5 loss of the examples used. */
  loss: number;
  examples: number;
}

/** A gradient pass's options (perUser: candidates for every user's slot too, Eq. 8), and k. */
export type CandidateOptions = SlotGradientOptions & {
  /** Candidates per slot (or per user). */
  k: number;
};

/** HotFlip candidates (Eq. 6 / 8), best first; the assignment's current token of each slot / user is never among them. */
export interface SlotCandidates {
  /** [numTaskSlots, k] token ids; slot s never gets a.taskTokens[s]. */
  task: Int32Array;
  /** perUser: [numUsers, k]; user u never gets a.userTokens[u]. */
  user?: Int32Array;
  /** perUser: training examples of each user (0 = no data; that user's row is then unspecified). */
  userCounts?: Int32Array;
  /** Mean P5 loss of the examples used. */
  loss: number;
  examples: number;
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof PaprecError) throw err;
    throw new PaprecError(`${what}: ${(err as Error).message}`);
  }
}

async function wrapAsync<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof PaprecError) throw err;
    throw new PaprecError(`${what}: ${(err as Error).message}`);
  }
}

export class ResidentExampleSet {
  private constructor(
    private readonly backbone: Backbone,
    private handle: NativeExampleSet | undefined,
    readonly task: Task,
    readonly size: number,
    readonly numTaskSlots: number,
    readonly numUsers: number,
    readonly hasUserSlot: boolean,
    readonly dModel: number,
    private readonly slotMask: Uint8Array | undefined,
    private readonly defaultToken: number | undefined,
    private readonly vocabLimit: number | undefined,
  ) {}

  /** Upload `set` to the backbone's device (validated there: ids, offsets, slot positions, user indices). */
  static upload(backbone: Backbone, set: ExampleSet, opts: UploadOptions = {}): ResidentExampleSet {
    const vocab = backbone.config.vocabSize;
    if (opts.slotMask && opts.slotMask.length !== vocab) {
      throw new PaprecError(
        `example set upload: the slot mask has ${opts.slotMask.length} entries but the model's vocabulary ${vocab} ` +
          `(tokenizer and model do not match)`,
      );
    }
    if (set.size === 0) throw new PaprecError(`example set upload: the ${set.task}/${set.split} set is empty`);
    const handle = wrap('example set upload', () => {
      const o: { batchSize?: number; streams?: number; slotMask?: Uint8Array } = {};
      if (opts.batchSize !== undefined) o.batchSize = opts.batchSize;
      if (opts.streams !== undefined) o.streams = opts.streams;
      if (opts.slotMask) o.slotMask = opts.slotMask; // uploaded once, with the set
      return new (native().NativeExampleSet)(
        backbone.native,
        {
          size: set.size,
          inputIds: set.inputIds,
          inputOffsets: set.inputOffsets,
          wholeWordIds: set.wholeWordIds,
          numTaskSlots: set.numTaskSlots,
          hasUserSlot: set.hasUserSlot,
          slotPositions: set.slotPositions,
          targetIds: set.targetIds,
          targetOffsets: set.targetOffsets,
          userIndex: set.userIndex,
          numUsers: set.numUsers,
        },
        o,
      );
    });
    return new ResidentExampleSet(
      backbone,
      handle,
      set.task,
      set.size,
      set.numTaskSlots,
      set.numUsers,
      set.hasUserSlot,
      backbone.config.dModel,
      opts.slotMask,
      opts.defaultToken,
      opts.vocabLimit,
    );
  }

  private get native(): NativeExampleSet {
    if (!this.handle) throw new PaprecError('resident example set: used after dispose()');
    return this.handle;
  }

  /** Shards used by default. */
  get streams(): number {
    return this.native.streams();
  }

  get numBatches(): number {
    return this.native.numBatches();
  }

  private checkMask(a: Assignment, i: number): void {
    if (!this.slotMask) return;
    const check = (tokens: Int32Array | undefined, what: string) => {
      tokens?.forEach((t, j) => {
        if (t >= 0 && t < this.slotMask!.length && !this.slotMask![t] && t !== this.defaultToken) {
          throw new PaprecError(`assignments[${i}].${what}[${j}] = ${t} is not allowed in a slot (not a word-start token)`);
        }
      });
    };
    check(a.taskTokens, 'taskTokens');
    check(a.userTokens, 'userTokens');
  }

  /**
   * Outcomes of every assignment (all k candidates of a search round in one native call), one Int32Array each:
   * ranks [size] (1-based rank of the target among the returned sequences, 0 = absent; a sequence matches when its
   * tokens up to its first </s> equal the target's), or generated ids [size * (maxLength - 1)] row-major (the best
   * sequence without its start token, </s> and pad 0 after it).
   */
  async evaluate(assignments: Assignment[], opts: EvaluateOptions = {}): Promise<Int32Array[]> {
    assignments.forEach((a, i) => this.checkMask(a, i));
    const ranking = (opts.outcome ?? (this.task === 'explanation' ? 'ids' : 'ranks')) === 'ranks';
    const numBeams = opts.numBeams ?? 20;
    const maxLength = opts.maxLength ?? 50;
    const o = {
      numBeams,
      numReturnSequences: opts.numReturnSequences ?? Math.min(10, numBeams),
      maxLength,
      minLength: opts.minLength ?? 0,
      earlyStopping: opts.earlyStopping ?? true,
      lengthPenalty: opts.lengthPenalty ?? 1.0,
      ranking,
      wholeWords: opts.wholeWords ?? true,
      ...(this.vocabLimit !== undefined ? { vocabLimit: this.vocabLimit } : {}),
      ...(opts.streams !== undefined ? { streams: opts.streams } : {}),
    };
    const h = this.native;
    const flat = await wrapAsync('evaluate', () => this.backbone.call(() => h.evaluate(assignments, o)));
    const per = ranking ? this.size : this.size * (maxLength - 1);
    return assignments.map((_, i) => flat.slice(i * per, (i + 1) * per));
  }

  /** Per-example P5 loss of every assignment (the paper's "loss" selection criterion), [size] each. */
  async loss(assignments: Assignment[], opts: { streams?: number } = {}): Promise<Float32Array[]> {
    assignments.forEach((a, i) => this.checkMask(a, i));
    const h = this.native;
    const flat = await wrapAsync('loss', () => this.backbone.call(() => h.loss(assignments, opts)));
    return assignments.map((_, i) => flat.slice(i * this.size, (i + 1) * this.size));
  }

  /**
   * Gradients of the P5 loss w.r.t. the slot embeddings (weights frozen, eval mode); see SlotGradients. A NaN / Inf
   * gradient is refused by the engine, naming the slot (or user index) and the dimension.
   */
  async slotGradients(assignment: Assignment, opts: SlotGradientOptions = {}): Promise<SlotGradients> {
    this.checkMask(assignment, 0);
    const h = this.native;
    return wrapAsync('slotGradients', () => this.backbone.call(() => h.slotGradients(assignment, opts)));
  }

  /**
   * One round's candidates in one native call: slot gradients, scores -e_t . g over the slot mask (uploaded once
   * with the set), top-k per task slot and, with perUser, per user; only token ids come back. Equal scores rank
   * the lower id first. Needs UploadOptions.slotMask.
   */
  async candidates(assignment: Assignment, opts: CandidateOptions): Promise<SlotCandidates> {
    if (!this.slotMask) throw new PaprecError('candidates: this example set was uploaded without slotMask (the tokens allowed in a slot)');
    this.checkMask(assignment, 0);
    const h = this.native;
    return wrapAsync('candidates', () => this.backbone.call(() => h.candidates(assignment, opts)));
  }

  /**
   * The continuous prompt baseline (PAP-REC §2.2.2): Adam on the task slots' input embeddings P, the P5 loss of
   * seeded mini-batches (backbone frozen, eval mode). P starts as `init.slotEmbeddings`, else as the embeddings of
   * `init.taskTokens`; the user slots keep `init.userTokens`. See softPrompt.ts `trainSoftPrompt`.
   */
  async trainSoftPrompt(init: Assignment, opts: { steps: number; lr: number; batchSize: number; seed: number; streams?: number }): Promise<{ embeddings: Float32Array; losses: Float32Array }> {
    this.checkMask(init, 0);
    const h = this.native;
    return wrapAsync('trainSoftPrompt', () => this.backbone.call(() => h.trainSoftPrompt(init, opts)));
  }

  /** Later calls are refused at once; the native set is freed when the calls already queued on the model end. */
  dispose(): void {
    const h = this.handle;
    this.handle = undefined;
    if (h) void this.backbone.afterCalls(() => h.dispose());
  }
}

/**
 * HotFlip candidates (paper Eq. 6 / 8): per gradient row, the top-k tokens by -e_t . g over the vocabulary,
 * restricted to `mask` (1 = allowed), computed in row chunks so memory stays bounded.
 */
export async function topCandidates(
  backbone: Backbone,
  gradients: Float32Array,
  rows: number,
  k: number,
  mask: Uint8Array,
): Promise<{ ids: Int32Array; scores: Float32Array }> {
  if (mask.length !== backbone.config.vocabSize) {
    throw new PaprecError(
      `topCandidates: the mask has ${mask.length} entries but the model's vocabulary ${backbone.config.vocabSize}`,
    );
  }
  return wrapAsync('topCandidates', () => backbone.call((h) => native().topCandidates(h, gradients, rows, k, mask)));
}
