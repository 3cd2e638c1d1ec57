/** Reads the shared Hugging Face fixtures (../shared/fixtures/<name>): golden.json and golden_tensors.bin (HFREFW01). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
export const FIXTURES = ['t5-tiny', 'p5-tiny', 'p5-eos'] as const;
/** T5 v1.1 (gated-GELU): t5v11-tiny has an untied head and num_heads * d_kv != d_model, t5v11-tied a tied one. */
export const T5V11_FIXTURES = ['t5v11-tiny', 't5v11-tied'] as const;
export type FixtureName = (typeof FIXTURES)[number] | (typeof T5V11_FIXTURES)[number];

export interface GoldenTensor {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export interface Fixture {
  name: FixtureName;
  dir: string;
  json: any;
  tensors: Map<string, GoldenTensor>;
  /** A float tensor. */
  f(name: string): { shape: number[]; data: Float32Array };
  /** An int64 tensor as rows of numbers ([B, L] -> B rows). */
  rows(name: string): number[][];
  /** The weights file that is not model.safetensors. */
  pthFile: string;
}

export function loadFixture(name: FixtureName): Fixture {
  const dir = path.join(SHARED, 'fixtures', name);
  const json = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  const bin = readFileSync(path.join(dir, 'golden_tensors.bin'));
  if (bin.subarray(0, 8).toString('latin1') !== 'HFREFW01') throw new Error(`${dir}: not HFREFW01`);
  const n = Number(bin.readBigUInt64LE(8));
  const header = JSON.parse(bin.subarray(16, 16 + n).toString('utf8'));
  const blob = bin.subarray(16 + n);
  const tensors = new Map<string, GoldenTensor>();
  for (const [key, h] of Object.entries<any>(header)) {
    const bytes = blob.subarray(h.offset, h.offset + h.nbytes);
    const copy = new Uint8Array(bytes).buffer;
    tensors.set(key, { shape: h.shape, data: h.dtype === 'float32' ? new Float32Array(copy) : new BigInt64Array(copy) });
  }
  const fixture: Fixture = {
    name,
    dir,
    json,
    tensors,
    f(key) {
      const t = tensors.get(key);
      if (!t || !(t.data instanceof Float32Array)) throw new Error(`${name}: no float tensor ${key}`);
      return { shape: t.shape, data: t.data };
    },
    rows(key) {
      const t = tensors.get(key);
      if (!t || !(t.data instanceof BigInt64Array)) throw new Error(`${name}: no int tensor ${key}`);
      const [B, L] = t.shape as [number, number];
      return Array.from({ length: B }, (_, b) => Array.from(t.data.subarray(b * L, (b + 1) * L), Number));
    },
    pthFile: path.join(dir, json.model.state_dict_file),
  };
  return fixture;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Encoder states [B, L, D] against HF's: the largest difference over real tokens, and the largest |value| at padded
 * positions (paprec does not compute those: HF's values there are read by nothing, the decoder masks them out).
 */
export function encoderStateDiff(ours: ArrayLike<number>, golden: ArrayLike<number>, mask: number[][]): { real: number; padded: number } {
  if (ours.length !== golden.length) throw new Error(`length ${ours.length} vs ${golden.length}`);
  const L = mask[0]!.length;
  const D = ours.length / (mask.length * L);
  let real = 0;
  let padded = 0;
  for (let i = 0; i < ours.length; i++) {
    const t = Math.floor(i / D);
    if (mask[Math.floor(t / L)]![t % L]) real = Math.max(real, Math.abs(ours[i]! - golden[i]!));
    else padded = Math.max(padded, Math.abs(ours[i]!));
  }
  return { real, padded };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
