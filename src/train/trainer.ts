/**
 * BackboneTrainer: AdamW training of a Backbone in the engine. One `runEpoch` call trains on a whole epoch of
 * examples (uploaded once, batched by length in C++), reporting each step; `stop()` ends it between steps. Its calls
 * queue behind the backbone's other calls; `step`, `stop` and `lrAt` never wait (the step counter is an atomic).
 */
import { PaprecError } from '../errors.js';
import type { Backbone } from '../backbone/backbone.js';
import type { Tensor } from '../checkpoint/index.js';
import type { RaggedRows } from '../types.js';
import { native, type NativeTrainOptions, type NativeBackbone, type NativeEpochResult, type NativeTrainer, type NativeTrainProgress, type NativeTrainSet } from '../native.js';

/** Training examples: ragged rows (src/types.ts), e.g. packTrainData's output or an ExampleSet. */
export type TrainData = RaggedRows;
export type TrainProgress = NativeTrainProgress;
export type EpochResult = NativeEpochResult;

/** Options of a trainer (documented on NativeTrainOptions, src/native.ts). */
export type TrainerOptions = NativeTrainOptions;

/** AdamW state by parameter name: first and second moments, and the number of steps taken. */
export interface OptimizerState {
  step: number;
  expAvg: Map<string, Tensor>;
  expAvgSq: Map<string, Tensor>;
}

function nativeError(err: unknown, what: string): never {
  if (err instanceof PaprecError) throw err;
  throw new PaprecError(`${what}: ${(err as Error).message}`);
}

/** Training rows in the engine (copied and validated once by `BackboneTrainer.upload`), for any number of epochs. */
export class TrainSet {
  /** @internal */
  constructor(
    readonly size: number,
    /** @internal */ readonly handle: NativeTrainSet,
    /** @internal */ readonly backbone: Backbone,
  ) {}
}

export class BackboneTrainer {
  private readonly handle: NativeTrainer;
  private readonly uploaded = new WeakMap<RaggedRows, TrainSet>();

  constructor(
    readonly backbone: Backbone,
    readonly options: TrainerOptions,
  ) {
    try {
      this.handle = new (native().NativeTrainer)(backbone.native, options);
    } catch (err) {
      nativeError(err, 'trainer');
    }
  }

  /** Optimizer steps taken so far (read without waiting, also while an epoch runs). */
  get step(): number {
    return this.handle.step();
  }

  lrAt(step: number): number {
    return this.handle.lrAt(step);
  }

  /**
   * Copy `rows` into the engine once (validated there: offsets, ids inside the vocabulary); the same object is
   * uploaded only once (later calls return the first upload, so do not change its arrays afterwards).
   */
  upload(rows: RaggedRows): TrainSet {
    let set = this.uploaded.get(rows);
    if (!set) {
      try {
        set = new TrainSet(rows.inputOffsets.length - 1, new (native().NativeTrainSet)(this.backbone.native, rows), this.backbone);
      } catch (err) {
        nativeError(err, 'training data');
      }
      this.uploaded.set(rows, set);
    }
    return set;
  }

  private own(set: TrainSet): NativeTrainSet {
    if (set.backbone !== this.backbone) throw new PaprecError('training data: this set was uploaded for another backbone');
    return set.handle;
  }

  /**
   * Train on an uploaded set for one epoch. The batch plan depends on (seed, epoch) only; `startBatch` skips the first
   * batches (resuming inside an epoch). `nanAtStep` is a test hook that poisons that global step's loss.
   */
  async runEpoch(
    data: TrainSet,
    opts: { epoch: number; batchSize: number; startBatch?: number; nanAtStep?: number },
    onProgress?: (p: TrainProgress) => void,
  ): Promise<EpochResult> {
    let r: EpochResult;
    let bad: ReturnType<NativeBackbone['firstNonFinite']> = null;
    try {
      [r, bad] = await this.backbone.call(async (h) => {
        const e = await this.handle.runEpoch(this.own(data), opts, onProgress);
        // Finite weights after every epoch (one native pass); a non-finite loss is reported by the caller instead.
        return [e, e.nonFinite ? null : h.firstNonFinite()] as const;
      });
    } catch (err) {
      nativeError(err, 'training');
    }
    if (bad) {
      throw new PaprecError(
        `training: after epoch ${opts.epoch + 1} (step ${r.step}) tensor ${bad.name} holds ${bad.value} at [${bad.index.join(', ')}]: ` +
          'the weights are no longer finite, training stopped (lower the learning rate, or check the data)',
      );
    }
    return r;
  }

  /** Per-example P5 loss with dropout off. */
  async evaluateLoss(data: TrainSet, batchSize = 64): Promise<Float32Array> {
    try {
      return await this.backbone.call(() => this.handle.evaluateLoss(this.own(data), batchSize));
    } catch (err) {
      nativeError(err, 'validation loss');
    }
  }

  /** Ask a running epoch to stop after its current step (sticky until `clearStop`). */
  stop(): void {
    this.handle.stop();
  }

  clearStop(): void {
    this.handle.clearStop();
  }

  async state(): Promise<OptimizerState> {
    const shapes = this.backbone.native.shapes();
    const s = await this.backbone.call(() => this.handle.getState());
    const avg = new Map<string, Tensor>();
    const sq = new Map<string, Tensor>();
    s.names.forEach((n, i) => {
      avg.set(n, { shape: shapes[i]!, data: s.expAvg[i]! });
      sq.set(n, { shape: shapes[i]!, data: s.expAvgSq[i]! });
    });
    return { step: s.step, expAvg: avg, expAvgSq: sq };
  }

  /** Restore a saved state; every parameter must be present with the model's shape. */
  setState(state: OptimizerState, where = 'optimizer state'): void {
    const names = this.backbone.native.names();
    const pick = (m: Map<string, Tensor>, kind: string) =>
      names.map((n) => {
        const t = m.get(n);
        if (!t) throw new PaprecError(`${where}: no ${kind} for tensor ${n}`);
        return t.data;
      });
    if (this.backbone.busy) throw new PaprecError(`${where}: a call on this model is running; await it first`);
    try {
      this.handle.setState({ step: state.step, expAvg: pick(state.expAvg, 'exp_avg'), expAvgSq: pick(state.expAvgSq, 'exp_avg_sq') });
    } catch (err) {
      nativeError(err, where);
    }
  }
}
