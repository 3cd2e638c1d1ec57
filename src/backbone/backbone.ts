/**
 * Backbone: one P5 model in the engine, on one device. Created from a config (random T5 initialisation) or loaded
 * from a checkpoint (HF folder, .safetensors, P5 .pth); saved as an HF folder.
 */
import { PaprecError } from '../errors.js';
import { loadCheckpoint, resolveConfig, saveCheckpoint, type ConfigInput, type P5Config, type Tensor } from '../checkpoint/index.js';
import { native, type NativeBackbone, type NativeConfig, type NativeGenerateOptions } from '../native.js';
import { toNativeBatch, type TokenBatch } from './batch.js';
import { CallQueue } from './queue.js';

export type Device = 'cpu' | 'cuda' | 'auto' | `cuda:${number}`;
/** fp32 (exact, HF's protocol); bf16 (CUDA, or a CPU with AMX / AVX512-BF16); tf32 (CUDA); auto: bf16 where it runs natively. */
export type Dtype = 'fp32' | 'tf32' | 'bf16' | 'auto';

export interface BackboneOptions {
  device?: Device | string;
  dtype?: Dtype;
}

export interface ForwardResult {
  /** Batch mean of the per-example P5 loss. */
  loss: number;
  /** Per example: summed target-token NLL / number of target tokens. */
  lossPerExample: Float32Array;
  /** [batch, targetLength, vocab], when asked for. */
  logits?: Float32Array;
  /** [batch, sourceLength, dModel], when asked for. */
  encoderHidden?: Float32Array;
}

export interface GenerateOptions {
  numBeams: number;
  numReturnSequences: number;
  /** Counts the decoder start token (HF). */
  maxLength: number;
  /** Counts the start token too: </s> is banned while the sequence is shorter. */
  minLength?: number;
  earlyStopping?: boolean;
  lengthPenalty?: number;
  /** The tokenizer's piece count: model rows from here on (T5 v1.1) are never generated. */
  vocabLimit?: number;
}

export interface GenerateResult {
  /** [rows * numReturnSequences, length]: the start token 0 first, </s> then pad 0 after a finished hypothesis. */
  sequences: Int32Array;
  /** Beam search: sum of log-probs / length^lengthPenalty per returned sequence; greedy: null. */
  scores: Float32Array | null;
  shape: [number, number];
  /** Greedy only: the (min-length processed) logit of each emitted token, [rows, length - 1]. */
  chosenLogits?: Float32Array;
}

export interface InputGradientsResult {
  loss: number;
  lossPerExample: Float32Array;
  /** d loss / d token embeddings, [batch, sourceLength, dModel]; 0 at padding. */
  gradients: Float32Array;
  shape: [number, number, number];
}

function nativeConfig(c: P5Config): NativeConfig {
  const { padTokenId: _pad, eosTokenId: _eos, decoderStartTokenId: _start, ...shape } = c;
  return shape;
}

/**
 * What `dtype` means on `device` (`auto`: bf16 where the hardware runs it natively, else fp32), or a PaprecError
 * naming the device and what it supports.
 */
export function resolveDtype(dtype: Dtype | string, device: Device | string): 'fp32' | 'bf16' | 'tf32' {
  try {
    return native().resolveDtype(dtype, device);
  } catch (err) {
    throw new PaprecError((err as Error).message);
  }
}

/** Creating a native model can throw (bad device): make that a PaprecError. */
function newNative(config: P5Config, opts: BackboneOptions & { seed?: number }): NativeBackbone {
  try {
    return new (native().NativeBackbone)(nativeConfig(config), {
      device: opts.device ?? 'cpu',
      dtype: opts.dtype ?? 'fp32',
      seed: opts.seed ?? 0,
    });
  } catch (err) {
    if (err instanceof PaprecError) throw err;
    throw new PaprecError(`backbone: ${(err as Error).message}`);
  }
}

export class Backbone {
  /** Every async call into this model (its resident sets, trainers, recommenders too) runs through this queue. */
  private readonly queue = new CallQueue();
  private disposed: Promise<void> | undefined;

  private constructor(
    readonly config: P5Config,
    private handle: NativeBackbone | undefined,
  ) {}

  /** A new model with T5's random initialisation, reproducible from `seed`. */
  static async create(config: ConfigInput, opts: BackboneOptions & { seed?: number } = {}): Promise<Backbone> {
    const c = resolveConfig(config);
    return new Backbone(c, newNative(c, opts));
  }

  /** Load an HF folder, a .safetensors file or a P5 .pth state dict (config from config.json beside it or `config`). */
  static async load(pathOrDir: string, opts: BackboneOptions & { config?: ConfigInput } = {}): Promise<Backbone> {
    const ckpt = await loadCheckpoint(pathOrDir, { config: opts.config });
    const backbone = new Backbone(ckpt.config, newNative(ckpt.config, opts));
    try {
      backbone.setTensors(ckpt.tensors, ckpt.source);
    } catch (err) {
      backbone.dispose();
      throw err;
    }
    return backbone;
  }

  /** The engine's handle (for the engine modules of this package; async calls go through `call`). */
  get native(): NativeBackbone {
    if (!this.handle || this.disposed) throw new PaprecError('backbone: used after dispose()');
    return this.handle;
  }

  /**
   * Run `f` on the engine's handle once every earlier call on this model has settled: calls on one model never
   * overlap, so the JS thread never waits on the engine's lock. `f` must not queue another call on this model
   * (it would wait for itself). Refused after dispose().
   */
  call<T>(f: (handle: NativeBackbone) => Promise<T> | T): Promise<T> {
    const h = this.native;
    return this.queue.run(() => f(h));
  }

  /** Run `f` once the calls queued so far have settled, even after dispose() (to free what lives on this model). */
  afterCalls(f: () => void): Promise<void> {
    return this.queue.run(f);
  }

  /** A call on this model is queued or running. */
  get busy(): boolean {
    return this.queue.busy;
  }

  /** Synchronous engine calls that touch the weights are refused while a queued call runs (they would race it). */
  private idle(what: string): NativeBackbone {
    const h = this.native;
    if (this.busy) throw new PaprecError(`${what}: a call on this model is running; await it first`);
    return h;
  }

  get device(): string {
    return this.native.device();
  }

  get dtype(): string {
    return this.native.dtype();
  }

  /** Copy weights in, by canonical HF name (shapes already validated by the checkpoint reader). */
  setTensors(tensors: ReadonlyMap<string, Tensor>, source = 'weights'): void {
    const names = [...tensors.keys()];
    try {
      this.idle('backbone setTensors').setParameters(names, names.map((n) => tensors.get(n)!.data));
    } catch (err) {
      // The engine refuses NaN / Inf weights naming the tensor and index; say which file held them.
      if (err instanceof PaprecError) throw err;
      throw new PaprecError(`${source}: ${(err as Error).message}`);
    }
  }

  /** The first parameter holding NaN / Inf (one native pass), or undefined when all weights are finite. */
  nonFinite(): { name: string; index: number[]; value: string } | undefined {
    return this.idle('backbone nonFinite').firstNonFinite() ?? undefined;
  }

  /** All weights, by canonical HF name, as float32 on the host. */
  async tensors(): Promise<Map<string, Tensor>> {
    const shapes = this.native.shapes();
    const { names, data } = await this.call((h) => h.getParameters());
    return new Map(names.map((n, i) => [n, { shape: shapes[i]!, data: data[i]! }]));
  }

  /** Write an HF-style folder: config.json + model.safetensors (+ extra files such as tokenizer.json). */
  async save(dir: string, opts: { extraFiles?: Record<string, string | Uint8Array> } = {}): Promise<void> {
    await saveCheckpoint(dir, this.config, await this.tensors(), opts);
  }

  /** Teacher-forced forward: the P5 loss (and logits / encoder states when asked). */
  async forward(batch: TokenBatch, opts: { logits?: boolean; encoderHidden?: boolean } = {}): Promise<ForwardResult> {
    if (!batch.labels) throw new PaprecError('forward: labels are required (teacher forcing)');
    const nb = toNativeBatch(batch);
    return this.call((h) => h.forward(nb, { logits: opts.logits ?? true, encoderHidden: opts.encoderHidden }));
  }

  /** The gradient of the P5 loss with respect to the token embeddings (weights frozen). */
  async inputGradients(batch: TokenBatch): Promise<InputGradientsResult> {
    if (!batch.labels) throw new PaprecError('inputGradients: labels are required');
    const nb = toNativeBatch(batch);
    const r = await this.call((h) => h.inputGradients(nb));
    return { ...r, shape: [nb.batchSize, nb.sourceLength, this.config.dModel] };
  }

  /**
   * Beam search (numBeams > 1) or greedy decoding with Hugging Face transformers 4.x semantics, KV-cached; the
   * encoder runs once per row and its cross-attention keys / values are shared by the row's beams.
   */
  async generate(
    batch: Pick<TokenBatch, 'inputIds' | 'attentionMask' | 'wholeWordIds'>,
    opts: GenerateOptions,
  ): Promise<GenerateResult> {
    const nb = toNativeBatch({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, wholeWordIds: batch.wholeWordIds });
    const o: NativeGenerateOptions = {
      numBeams: opts.numBeams,
      numReturnSequences: opts.numReturnSequences,
      maxLength: opts.maxLength,
      minLength: opts.minLength ?? 0,
      earlyStopping: opts.earlyStopping ?? false,
      lengthPenalty: opts.lengthPenalty ?? 1.0,
      ...(opts.vocabLimit !== undefined ? { vocabLimit: opts.vocabLimit } : {}),
    };
    let r;
    try {
      r = await this.call((h) => native().generate(h, nb, o));
    } catch (err) {
      throw new PaprecError(`generate: ${(err as Error).message}`);
    }
    const out: GenerateResult = { sequences: r.sequences, scores: r.scores, shape: [r.rows, r.length] };
    if (r.chosenLogits) out.chosenLogits = r.chosenLogits;
    return out;
  }

  /**
   * Free the native model once the calls already queued on it have ended (otherwise the garbage collector does
   * it). Later calls are refused at once ("used after dispose"); idempotent; the promise settles when it is freed.
   */
  dispose(): Promise<void> {
    if (!this.disposed) {
      const h = this.handle;
      this.disposed = this.queue.run(() => {
        h?.dispose();
        this.handle = undefined;
      });
    }
    return this.disposed;
  }
}
