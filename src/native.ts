/**
 * The one place that loads the LibTorch addon and types its raw interface. Everything else imports the TS classes
 * (src/backbone, src/engine) that wrap it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaprecError } from './errors.js';
import type { P5Config } from './checkpoint/config.js';
import type { RaggedRows } from './types.js';

/** P5Config as the addon reads it: the fields that shape the model (the token ids are T5's fixed ones). */
export type NativeConfig = Omit<P5Config, 'padTokenId' | 'eosTokenId' | 'decoderStartTokenId'>;

/** A right-padded batch, row-major: inputIds[b * sourceLength + l]. labels are padded with -100. */
export interface NativeBatch {
  batchSize: number;
  sourceLength: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
  wholeWordIds?: Int32Array;
  targetLength?: number;
  labels?: Int32Array;
}

export interface NativeForward {
  loss: number;
  lossPerExample: Float32Array;
  logits?: Float32Array;
  encoderHidden?: Float32Array;
}

export interface NativeInputGradients {
  loss: number;
  lossPerExample: Float32Array;
  gradients: Float32Array;
}

export interface NativeBackbone {
  config(): NativeConfig;
  device(): string;
  dtype(): string;
  names(): string[];
  shapes(): number[][];
  setParameters(names: string[], data: Float32Array[]): void;
  getParameters(): Promise<{ names: string[]; data: Float32Array[] }>;
  /** The first parameter holding NaN / Inf and where, or null when every weight is finite. */
  firstNonFinite(): { name: string; index: number[]; value: 'NaN' | 'Infinity' | '-Infinity' } | null;
  forward(batch: NativeBatch, opts?: { logits?: boolean; encoderHidden?: boolean }): Promise<NativeForward>;
  inputGradients(batch: NativeBatch): Promise<NativeInputGradients>;
  dispose(): void;
}

export interface NativeInfo {
  torchVersion: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDevices: number;
  threads: number;
  /** The CPU's native bf16 matrix unit ("amx_bf16", "avx512_bf16"), or "" when it has none. */
  cpuBf16: string;
  /** What `--dtype auto` means on the CPU with this build. */
  cpuAutoDtype: 'fp32' | 'bf16';
  /** torch.distributed backends of this build ("gloo", "gloo,nccl"), "" where it has no c10d (one process only). */
  distBackends?: string;
}

/** A typed array a collective carries (Uint8Array: broadcast only). */
export type CollectiveArray = Float32Array | Float64Array | Int32Array;

/** A c10d process group (src/dist wraps it): every call settles when this rank's part is done; failures reject. */
export interface NativeProcessGroup {
  rank(): number;
  world(): number;
  backend(): string;
  allReduce<T extends CollectiveArray>(values: T): Promise<T>;
  /** [world * n], rank order; every rank must send n values. */
  allGather<T extends CollectiveArray>(values: T): Promise<T>;
  broadcast<T extends CollectiveArray | Uint8Array>(values: T, root: number): Promise<T>;
  barrier(): Promise<void>;
  /** After a failure: the ranks that could still answer through the rendezvous store within graceMs. */
  rollCall(graceMs: number): Promise<{ storeReachable: boolean; answered: number[] }>;
  close(): Promise<void>;
}

export interface NativeGroupOptions {
  rank: number;
  world: number;
  masterAddr: string;
  masterPort: number;
  /** The rendezvous and every collective (default 30 min). */
  timeoutMs?: number;
  backend?: 'gloo' | 'nccl';
  /** nccl: this rank's CUDA device. */
  deviceIndex?: number;
}

/** Training rows copied into the engine and validated once, for any number of epochs and loss passes. */
export interface NativeTrainSet {
  size(): number;
}

export interface NativeTrainOptions {
  lr: number;
  /** Decoupled weight decay, not applied to layer norms (default 0.01, P5's). */
  weightDecay?: number;
  /** AdamW's moment decays and epsilon (defaults 0.9, 0.999, 1e-8; P5's). */
  beta1?: number;
  beta2?: number;
  eps?: number;
  warmupSteps?: number;
  /** Steps of the whole run: the learning rate decays linearly to 0 at this step (0: constant after warm-up). */
  totalSteps?: number;
  /** Global gradient-norm clip (default 1.0; 0 turns it off). */
  clipNorm?: number;
  seed?: number;
  /** CUDA only: bf16 autocast, fp32 weights and optimizer state. */
  bf16?: boolean;
  /** AdamW-scale (nanoT5): each tensor's step is lr x max(1e-3, RMS(tensor)), as in Adafactor (default false). */
  rmsScaled?: boolean;
  /**
   * CPU: batch shards whose forward and backward passes run in parallel, one thread each (default 0: one per
   * intra-op thread, at least 8 examples each). Results are reproducible for a given shard count.
   */
  shards?: number;
  /** Data-parallel: the shards of each step split over the group's ranks, gradients and loss summed over them. */
  group?: NativeProcessGroup;
}

export interface NativeTrainProgress {
  step: number;
  batch: number;
  batches: number;
  examples: number;
  loss: number;
  meanLoss: number;
  examplesPerSecond: number;
  lr: number;
  gradNorm: number;
}

export interface NativeEpochResult extends NativeTrainProgress {
  stopped: boolean;
  nonFinite: boolean;
  nonFiniteStep: number;
}

export interface NativeOptimizerState {
  step: number;
  names?: string[];
  expAvg: Float32Array[];
  expAvgSq: Float32Array[];
}

export interface NativeTrainer {
  runEpoch(
    set: NativeTrainSet,
    opts: { epoch: number; batchSize: number; startBatch?: number; nanAtStep?: number },
    onProgress?: (p: NativeTrainProgress) => void,
  ): Promise<NativeEpochResult>;
  evaluateLoss(set: NativeTrainSet, batchSize: number): Promise<Float32Array>;
  stop(): void;
  clearStop(): void;
  step(): number;
  lrAt(step: number): number;
  getState(): Promise<NativeOptimizerState & { names: string[] }>;
  setState(state: NativeOptimizerState): void;
}

/** Generation options (HF transformers 4.x semantics; maxLength and minLength count the decoder start token). */
export interface NativeGenerateOptions {
  numBeams?: number;
  numReturnSequences?: number;
  maxLength?: number;
  minLength?: number;
  earlyStopping?: boolean;
  lengthPenalty?: number;
  /** > 0: ids from here on are never generated (model rows beyond the tokenizer's pieces). */
  vocabLimit?: number;
  /** `generate` only: constrained decoding (native/engine/constraint.h). */
  constraint?: NativeConstraint;
}

/**
 * Allowed output sequences, each what may follow the start token, ending with `</s>` (flat: sequence i of a set spans
 * [offsets[i], offsets[i+1]) of its ids). rowSet[i] names the set of batch row i (-1: free); omitted: set 0 for all.
 */
export interface NativeConstraint {
  sets: Array<{ ids: Int32Array; offsets: Int32Array }>;
  rowSet?: Int32Array;
}

export interface NativeGenerated {
  /** [rows, length] row-major; the hypotheses of input row i are rows i*nrs .. i*nrs+nrs-1, best first. */
  sequences: Int32Array;
  rows: number;
  length: number;
  /** Beam search: length-normalised scores [rows]; greedy: null. */
  scores: Float32Array | null;
  /** Greedy: processed logit of each emitted token [inputRows, steps]. */
  chosenLogits?: Float32Array;
}

/** The ExampleSet arrays the engine reads (src/types.ts ExampleSet). */
export interface NativeExampleSetData extends RaggedRows {
  size: number;
  numTaskSlots: number;
  hasUserSlot: boolean;
  slotPositions: Int32Array;
  userIndex: Int32Array;
  numUsers: number;
}

export interface NativeAssignment {
  taskTokens: Int32Array;
  userTokens?: Int32Array;
  /** A soft prompt: [numTaskSlots * dModel] input embeddings of the task slots (they replace the tokens' own). */
  slotEmbeddings?: Float32Array;
}

export interface NativeEvaluateOptions extends NativeGenerateOptions {
  /** true: ranks of the target; false: the best generated ids. */
  ranking?: boolean;
  wholeWords?: boolean;
  streams?: number;
}

export interface NativeSlotGradients {
  task: Float32Array;
  taskCounts: Int32Array;
  user?: Float32Array;
  userCounts?: Int32Array;
  loss: number;
  examples: number;
}

export interface NativeCandidates {
  task: Int32Array;
  user?: Int32Array;
  userCounts?: Int32Array;
  loss: number;
  examples: number;
}

export interface NativeGradientOptions {
  /** Also the user-slot gradient averaged over each user's examples (from that user's examples only; needs userTokens). */
  perUser?: boolean;
  /** Use a seeded random subset of this many examples (0 / omitted = all). */
  sample?: number;
  seed?: number;
  /** Only these examples (a shard's part of a sample drawn over the whole set; not with `sample`). */
  rows?: Int32Array;
  /** Distributed: task-slot gradient sums, counts and loss summed over the group's ranks (src/dist) before the means. */
  reduce?: NativeProcessGroup;
  streams?: number;
}

export interface NativeExampleSet {
  size(): number;
  numBatches(): number;
  streams(): number;
  evaluate(assignments: NativeAssignment[], opts: NativeEvaluateOptions): Promise<Int32Array>;
  loss(assignments: NativeAssignment[], opts?: { streams?: number }): Promise<Float32Array>;
  slotGradients(
    assignment: NativeAssignment,
    opts?: NativeGradientOptions,
  ): Promise<NativeSlotGradients>;
  /** Needs opts.slotMask at construction. */
  candidates(assignment: NativeAssignment, opts: NativeGradientOptions & { k: number }): Promise<NativeCandidates>;
  /** Adam on the task slots' input embeddings (backbone frozen, eval mode); losses: each step's mini-batch loss. */
  trainSoftPrompt(
    assignment: NativeAssignment,
    opts: { steps: number; lr?: number; batchSize?: number; seed?: number; streams?: number },
  ): Promise<{ embeddings: Float32Array; losses: Float32Array }>;
  dispose(): void;
}

export interface NativeAddon {
  NativeBackbone: new (config: NativeConfig, opts: { device?: string; dtype?: string; seed?: number }) => NativeBackbone;
  info(): NativeInfo;
  setThreads(n: number): void;
  /** What a dtype request means on a device ('auto' resolved); throws with the reason where it cannot run. */
  resolveDtype(dtype: string, device: string): 'fp32' | 'bf16' | 'tf32';
  NativeTrainer: new (backbone: NativeBackbone, opts: NativeTrainOptions) => NativeTrainer;
  NativeTrainSet: new (backbone: NativeBackbone, rows: RaggedRows) => NativeTrainSet;
  generate(backbone: NativeBackbone, batch: NativeBatch, opts: NativeGenerateOptions): Promise<NativeGenerated>;
  /** Benchmark comparison path: no KV cache, one example at a time. */
  generateNaive(backbone: NativeBackbone, batch: NativeBatch, opts: NativeGenerateOptions): Promise<NativeGenerated>;
  NativeExampleSet: new (
    backbone: NativeBackbone,
    set: NativeExampleSetData,
    opts: { batchSize?: number; streams?: number; slotMask?: Uint8Array },
  ) => NativeExampleSet;
  topCandidates(
    backbone: NativeBackbone,
    gradients: Float32Array,
    rows: number,
    k: number,
    mask: Uint8Array,
    chunkElements?: number,
  ): Promise<{ ids: Int32Array; scores: Float32Array }>;
  /** The nearest token allowed by `mask` of each embedding row (L2 distance; ties: the lower id). */
  projectSoftPrompt(backbone: NativeBackbone, embeddings: Float32Array, rows: number, mask: Uint8Array): Promise<Int32Array>;
  defaultStreams(backbone: NativeBackbone): number;
  /** The examples a seeded sample of `sample` out of `n` takes in a gradient pass (the engine's own draw). */
  sampleRows(n: number, sample: number, seed: number): Int32Array;
  connectGroup(opts: NativeGroupOptions): Promise<NativeProcessGroup>;
  /** True when `generate` reads `constraint` (an addon built before it ignores the option). */
  constrainedDecoding?: boolean;
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use. PAPREC_NATIVE points at another build of paprec_native.node. */
export function native(): NativeAddon {
  if (addon) return addon;
  // The addon reads PAPREC_THREADS at load (atoi: "abc" and "0" would silently mean something else): check it here.
  const threads = process.env.PAPREC_THREADS;
  if (threads !== undefined && !/^[1-9]\d{0,3}$/.test(threads.trim())) {
    throw new PaprecError(`PAPREC_THREADS must be a positive integer (intra-op CPU threads), got ${JSON.stringify(threads)}`);
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const file = process.env.PAPREC_NATIVE ?? path.join(root, 'build', 'Release', 'paprec_native.node');
  if (!existsSync(file)) {
    throw new PaprecError(`${file}: the native addon is not built; run \`npm run build:native\` (see README: LibTorch)`);
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}
