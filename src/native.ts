/**
 * The one place that loads the LibTorch addon and types its raw interface. Everything else imports the TS classes
 * (src/backbone, src/engine) that wrap it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaprecError } from './errors.js';

/** P5Config as the addon reads it (camelCase, the subset that shapes the model). */
export interface NativeConfig {
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  numHeads: number;
  numLayers: number;
  numDecoderLayers: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  layerNormEpsilon: number;
  dropoutRate: number;
  wholeWordEmbeddings: boolean;
  wholeWordSize: number;
}

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
}

export interface NativeAddon {
  NativeBackbone: new (config: NativeConfig, opts: { device?: string; dtype?: string; seed?: number }) => NativeBackbone;
  info(): NativeInfo;
  setThreads(n: number): void;
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use. PAPREC_NATIVE points at another build of paprec_native.node. */
export function native(): NativeAddon {
  if (addon) return addon;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const file = process.env.PAPREC_NATIVE ?? path.join(root, 'build', 'Release', 'paprec_native.node');
  if (!existsSync(file)) {
    throw new PaprecError(`${file}: the native addon is not built; run \`npm run build:native\` (see README: LibTorch)`);
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}
