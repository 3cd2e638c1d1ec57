/**
 * SearchBackend over the engine: a validation set and a training set resident on the backbone's device. A prompt
 * change sends only slot ids (DESIGN.md "the one idea"); the k candidates of a round go down in one evaluate call.
 */
import { EOS_ID, type ExampleSet, type Tokenizer } from '../types.js';
import type { Assignment, RowOutcomes, SearchBackend, UserCandidates } from './types.js';
import type { EvalSettings } from './objective.js';

/** The engine calls a search makes (implemented by engineOps.ts over src/engine). */
export interface ResidentSetLike {
  readonly size: number;
  /** Ranking: [size] 1-based target ranks per assignment; explanation: [size, maxLength - 1] generated ids. */
  evaluate(assignments: readonly Assignment[], opts: { numBeams: number; numReturnSequences: number; maxLength: number; ranking: boolean }): Promise<Int32Array[]>;
  loss(assignments: readonly Assignment[]): Promise<Float32Array[]>;
  slotGradients(a: Assignment, opts: { perUser: boolean; sample?: number; seed?: number }): Promise<{ task: Float32Array; user?: Float32Array; userCounts?: Int32Array }>;
  dispose(): void;
}

export interface EngineOps {
  upload(set: ExampleSet): Promise<ResidentSetLike>;
  /** [rows, k] ids by -e_t . g over the allowed tokens, best first. */
  topCandidates(gradients: Float32Array, rows: number, k: number, mask: Uint8Array): Promise<Int32Array>;
}

/** Generated ids [size, width] -> texts, each cut at its first </s>. */
export function decodeRows(ids: Int32Array, size: number, tokenizer: Pick<Tokenizer, 'decode'>): string[] {
  const width = size === 0 ? 0 : ids.length / size;
  const out: string[] = [];
  for (let i = 0; i < size; i++) {
    const row = ids.subarray(i * width, (i + 1) * width);
    const end = row.indexOf(EOS_ID);
    out.push(tokenizer.decode(end < 0 ? row : row.subarray(0, end)).trim());
  }
  return out;
}

/** For every row of `ids` [rows, k + 1], the first k ids other than `exclude[row]`. */
export function dropCurrent(ids: Int32Array, rows: number, k: number, exclude: ArrayLike<number>): Int32Array {
  const w = k + 1;
  const out = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < w && n < k; j++) {
      const id = ids[r * w + j]!;
      if (id !== exclude[r]) out[r * k + n++] = id;
    }
  }
  return out;
}

export interface EngineBackendOptions {
  ops: EngineOps;
  val: ResidentSetLike;
  train: ResidentSetLike;
  valSet: Pick<ExampleSet, 'userIndex' | 'numUsers' | 'numTaskSlots' | 'hasUserSlot' | 'task'>;
  settings: EvalSettings;
  tokenizer: Pick<Tokenizer, 'decode'>;
  /** Tokens allowed in a slot (word starts). */
  mask: Uint8Array;
  /** Training rows per task-gradient pass (seeded); undefined = all. Per-user gradients always use all. */
  gradientSample?: number;
}

export class EngineBackend implements SearchBackend {
  readonly numTaskSlots: number;
  readonly personalized: boolean;
  readonly numUsers: number;
  readonly valUserIndex: Int32Array;

  constructor(private readonly o: EngineBackendOptions) {
    this.numTaskSlots = o.valSet.numTaskSlots;
    this.personalized = o.valSet.hasUserSlot;
    this.numUsers = o.valSet.numUsers;
    this.valUserIndex = o.valSet.userIndex;
  }

  async evaluate(assignments: readonly Assignment[]): Promise<RowOutcomes[]> {
    const { settings, val } = this.o;
    if (settings.criterion === 'loss') return (await val.loss(assignments)).map((loss) => ({ kind: 'loss', loss }));
    const ranking = this.o.valSet.task !== 'explanation';
    const outs = await val.evaluate(assignments, {
      numBeams: settings.numBeams,
      numReturnSequences: settings.numReturnSequences,
      maxLength: settings.maxLength,
      ranking,
    });
    if (ranking) return outs.map((ranks) => ({ kind: 'ranks', ranks }));
    return outs.map((ids) => ({ kind: 'texts', texts: decodeRows(ids, val.size, this.o.tokenizer) }));
  }

  async taskCandidates(a: Assignment, k: number, exclude: Int32Array, sampleSeed: number): Promise<Int32Array> {
    const sample = this.o.gradientSample !== undefined && this.o.gradientSample < this.o.train.size ? this.o.gradientSample : undefined;
    const g = await this.o.train.slotGradients(a, { perUser: false, ...(sample ? { sample, seed: sampleSeed } : {}) });
    const ids = await this.o.ops.topCandidates(g.task, this.numTaskSlots, k + 1, this.o.mask);
    return dropCurrent(ids, this.numTaskSlots, k, exclude);
  }

  async userCandidates(a: Assignment, k: number): Promise<UserCandidates> {
    const g = await this.o.train.slotGradients(a, { perUser: true });
    if (!g.user || !g.userCounts) throw new Error('slotGradients: the engine returned no per-user gradients for a personalized set');
    const ids = await this.o.ops.topCandidates(g.user, this.numUsers, k + 1, this.o.mask);
    const hasData = Uint8Array.from(g.userCounts, (c) => (c > 0 ? 1 : 0));
    return { candidates: dropCurrent(ids, this.numUsers, k, a.userTokens!), hasData };
  }
}
