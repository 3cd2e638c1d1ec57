import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/checkpoint/config.js';
import { expectedTensors } from '../../src/checkpoint/names.js';
import { encodeSafetensors, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { PaprecError } from '../../src/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const f32 = (...v: number[]) => Buffer.from(Float32Array.from(v).buffer);
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** A safetensors file from a header object and a data section; `headerLength` overrides the 8-byte prefix. */
function writeRaw(name: string, header: unknown, data: Uint8Array, headerLength?: bigint): string {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  const file = path.join(tmp, name);
  writeFileSync(file, Buffer.concat([prefix, json, data]));
  return file;
}

describe('readSafetensors on the fixtures', () => {
  for (const name of ['t5-tiny', 'p5-tiny', 'p5-eos']) {
    it(`${name}: every HF name, in state_dict order, float32, tied copies identical`, async () => {
      const config = resolveConfig(`${FIXTURES}${name}`);
      const tensors = await readSafetensors(`${FIXTURES}${name}/model.safetensors`);
      const expected = expectedTensors(config, { tiedCopies: true });
      expect([...tensors.keys()]).toEqual([...expected.keys()]);
      for (const [n, t] of tensors) {
        expect(t.shape, n).toEqual(expected.get(n));
        expect(t.dtype).toBe('F32');
        expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      }
      expect(bits(tensors.get('lm_head.weight')!.data)).toEqual(bits(tensors.get('shared.weight')!.data));
      // Random init: a layer norm weight is not all zeros, so data really came from the file.
      expect(tensors.get('encoder.final_layer_norm.weight')!.data.some((x) => x !== 0)).toBe(true);
    });
  }

  it('re-encoding a fixture reproduces the file byte for byte', async () => {
    const file = `${FIXTURES}p5-tiny/model.safetensors`;
    const tensors = await readSafetensors(file);
    expect(Buffer.from(encodeSafetensors(tensors)).equals(readFileSync(file))).toBe(true);
  });
});

describe('writeSafetensors', () => {
  it('round-trips bit-exactly (NaN payloads, -0, subnormals, infinities) with the standard layout', async () => {
    const odd = new Float32Array(7);
    bits(odd).set([0x7fc00001, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3f800000, 0xffffffff]);
    const big = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i) * 1e-3);
    const file = path.join(tmp, 'rt.safetensors');
    await writeSafetensors(file, [['odd', { shape: [7], data: odd }], ['a.b', { shape: [3, 5], data: big }], ['empty', { shape: [0, 4], data: new Float32Array(0) }]], { note: 'x' });
    const raw = readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
    expect(header.__metadata__).toEqual({ format: 'pt', note: 'x' });
    expect(header.odd).toEqual({ dtype: 'F32', shape: [7], data_offsets: [0, 28] });
    expect(raw.length).toBe(8 + n + 28 + 60);
    const back = await readSafetensors(file);
    expect(bits(back.get('odd')!.data)).toEqual(bits(odd));
    expect(bits(back.get('a.b')!.data)).toEqual(bits(big));
    expect(back.get('empty')!.shape).toEqual([0, 4]);
    expect((await readSafetensorsHeader(file)).metadata).toEqual({ format: 'pt', note: 'x' });
  });

  it('refuses a shape that does not match the data, and duplicate names', () => {
    expect(() => encodeSafetensors([['w', { shape: [2, 3], data: new Float32Array(5) }]])).toThrow('tensor w: shape [2, 3] needs 6 values, got 5');
    const t = { shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensors([['w', t], ['w', t]])).toThrow('tensor w is given twice');
  });
});

describe('other dtypes convert to float32', () => {
  it('F16, BF16 and F64', async () => {
    // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal half), +inf
    const f16 = Buffer.alloc(10);
    [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00].forEach((h, i) => f16.writeUInt16LE(h, i * 2));
    // bf16 = top 16 bits of float32: 1.0 -> 0x3f80, -3.5 -> 0xc060
    const bf16 = Buffer.alloc(4);
    [0x3f80, 0xc060].forEach((h, i) => bf16.writeUInt16LE(h, i * 2));
    const f64 = Buffer.alloc(16);
    f64.writeDoubleLE(0.1, 0);
    f64.writeDoubleLE(-1e300, 8);
    const file = writeRaw('dtypes.safetensors', {
      h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
      d: { dtype: 'F64', shape: [2], data_offsets: [14, 30] },
      f: { dtype: 'F32', shape: [2], data_offsets: [30, 38] }, // not 4-byte aligned: copied, not viewed
    }, Buffer.concat([f16, bf16, f64, f32(0.5, -7)]));
    const t = await readSafetensors(file);
    expect([...t.get('h')!.data]).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect([...t.get('b')!.data]).toEqual([1, -3.5]);
    expect([...t.get('d')!.data]).toEqual([Math.fround(0.1), -Infinity]);
    expect([...t.get('f')!.data]).toEqual([0.5, -7]);
    expect(t.get('h')!.dtype).toBe('F16');
  });
});

describe('bad safetensors files are refused before any tensor read', () => {
  const ok = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const data16 = new Uint8Array(16);

  it('missing file', async () => {
    const file = path.join(tmp, 'nope.safetensors');
    await expect(readSafetensors(file)).rejects.toThrow(`${file}: safetensors file not found`);
  });

  it('shorter than 8 bytes', async () => {
    const file = path.join(tmp, 'short.safetensors');
    writeFileSync(file, Buffer.from([1, 2, 3]));
    await expect(readSafetensors(file)).rejects.toThrow(/short\.safetensors: safetensors file is 3 bytes, shorter than its 8-byte header length/);
  });

  it('truncated file (data cut off)', async () => {
    const full = readFileSync(`${FIXTURES}t5-tiny/model.safetensors`);
    const file = path.join(tmp, 'truncated.safetensors');
    writeFileSync(file, full.subarray(0, full.length - 100));
    await expect(readSafetensors(file)).rejects.toThrow(/truncated\.safetensors: tensor lm_head\.weight: data_offsets \[\d+, \d+\] point outside the file/);
    writeFileSync(file, full.subarray(0, 100));
    await expect(readSafetensors(file)).rejects.toThrow(/header length \d+ is larger than the 92 bytes after it \(truncated file\?\)/);
  });

  it('header pointing outside the file', async () => {
    const file = writeRaw('outside.safetensors', { w: { dtype: 'F32', shape: [2, 2], data_offsets: [1000, 1016] } }, data16);
    await expect(readSafetensors(file)).rejects.toThrow('tensor w: data_offsets [1000, 1016] point outside the file (data section is 16 bytes');
  });

  it('absurd header length', async () => {
    const file = writeRaw('absurd.safetensors', ok, data16, 2n ** 62n);
    await expect(readSafetensors(file)).rejects.toThrow(/header length 4611686018427387904 exceeds the 100000000-byte limit/);
  });

  it('unsupported dtype, named', async () => {
    const file = writeRaw('i64.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data16);
    await expect(readSafetensors(file)).rejects.toThrow('tensor ids: dtype "I64" is not supported (expected one of F32, F16, BF16, F64)');
  });

  it('byte length that does not match the shape', async () => {
    const file = writeRaw('shape.safetensors', { w: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, data16);
    await expect(readSafetensors(file)).rejects.toThrow('tensor w: data_offsets [0, 16] span 16 bytes, but shape [3, 2] of F32 needs 24');
  });

  it('overlapping tensors, begin > end, missing keys, bad JSON', async () => {
    const overlap = writeRaw('overlap.safetensors', {
      a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    }, data16);
    await expect(readSafetensors(overlap)).rejects.toThrow('tensors a [0, 12) and b [8, 16) overlap');
    const backwards = writeRaw('backwards.safetensors', { w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, data16);
    await expect(readSafetensors(backwards)).rejects.toThrow('tensor w: data_offsets [8, 4] has begin > end');
    const noShape = writeRaw('noshape.safetensors', { w: { dtype: 'F32', data_offsets: [0, 16] } }, data16);
    await expect(readSafetensors(noShape)).rejects.toThrow('tensor w: header entry has no shape');
    const negShape = writeRaw('neg.safetensors', { w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, data16);
    await expect(readSafetensors(negShape)).rejects.toThrow(/shape \[-4\] must be a list of non-negative integers/);
    const file = path.join(tmp, 'json.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(5n);
    writeFileSync(file, Buffer.concat([prefix, Buffer.from('{"w":'), data16]));
    const err = await readSafetensors(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaprecError);
    expect((err as Error).message).toMatch(/json\.safetensors: safetensors header is not valid UTF-8 JSON/);
  });
});
