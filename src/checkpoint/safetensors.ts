/**
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data section; offsets are
 * relative to the data section. The whole header is validated before a single tensor byte is read, so a hostile or
 * truncated file fails with a message instead of a huge allocation or a read past the end.
 */
import { promises as fsp } from 'node:fs';
import { PaprecError, fail } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { DTYPE_SIZE, type FloatDtype, isFloatDtype, toFloat32 } from './dtype.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Headers above this are refused (the reference implementation uses the same 100 MB cap). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface LoadedTensor {
  shape: number[];
  /** The dtype stored in the file; `data` is always float32. */
  dtype: FloatDtype;
  data: Float32Array;
}

export interface SafetensorsEntry {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + N). */
  dataStart: number;
}

/** Validate a header (already read) against the file size. Exported for tests and for tools that only list. */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const dataLength = fileSize - dataStart;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail(file, `safetensors header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(file, 'safetensors header must be a JSON object');
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(file, '__metadata__ must be an object');
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `${file}: tensor ${name}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PaprecError(`${where}: header entry must be an object`);
    const e = raw as Record<string, unknown>;
    for (const key of ['dtype', 'shape', 'data_offsets']) {
      if (!(key in e)) throw new PaprecError(`${where}: header entry has no ${key}`);
    }
    if (!isFloatDtype(e.dtype)) {
      throw new PaprecError(
        `${where}: dtype ${JSON.stringify(e.dtype)} is not supported (expected one of ${Object.keys(DTYPE_SIZE).join(', ')})`,
      );
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new PaprecError(`${where}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw new PaprecError(`${where}: data_offsets ${JSON.stringify(offs)} must be [begin, end] (non-negative integers)`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) throw new PaprecError(`${where}: data_offsets [${begin}, ${end}] has begin > end`);
    if (end > dataLength) {
      throw new PaprecError(
        `${where}: data_offsets [${begin}, ${end}] point outside the file (data section is ${Math.max(dataLength, 0)} bytes; ` +
          `the file is truncated or the header is corrupt)`,
      );
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const need = numel * DTYPE_SIZE[e.dtype];
    if (end - begin !== need) {
      throw new PaprecError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${(shape as number[]).join(', ')}] ` +
          `of ${e.dtype} needs ${need}`,
      );
    }
    entries.push({ name, dtype: e.dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      fail(file, `tensors ${prev.name} [${prev.begin}, ${prev.end}) and ${cur.name} [${cur.begin}, ${cur.end}) overlap`);
    }
  }
  return { entries, metadata, dataStart };
}

/** Read the 8-byte length and the header of a safetensors file, validated; no tensor bytes are read. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openOrFail(file);
  try {
    return await readHeader(handle, file);
  } finally {
    await handle.close();
  }
}

async function openOrFail(file: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PaprecError(`${file}: safetensors file not found`);
    throw new PaprecError(`${file}: cannot open safetensors file (${code ?? String(err)})`);
  }
}

async function readHeader(handle: fsp.FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  if (size < 8) fail(file, `safetensors file is ${size} bytes, shorter than its 8-byte header length`);
  const lenBytes = Buffer.alloc(8);
  await handle.read(lenBytes, 0, 8, 0);
  const n = lenBytes.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (n > BigInt(size - 8)) fail(file, `safetensors header length ${n} is larger than the ${size - 8} bytes after it (truncated file?)`);
  const headerBytes = Buffer.alloc(Number(n));
  await handle.read(headerBytes, 0, headerBytes.length, 8);
  return parseSafetensorsHeader(headerBytes, size, file);
}

/** All tensors of a safetensors file, converted to float32, in header order. */
export async function readSafetensors(file: string): Promise<Map<string, LoadedTensor>> {
  const handle = await openOrFail(file);
  try {
    const header = await readHeader(handle, file);
    const dataEnd = header.entries.reduce((m, e) => Math.max(m, e.end), 0);
    // Own ArrayBuffer (not the small-buffer pool), so aligned F32 tensors can be views instead of copies.
    const data = new Uint8Array(new ArrayBuffer(dataEnd));
    // Reads may come back short (and one read is capped near 2 GiB): loop until the data section is in.
    for (let got = 0; got < dataEnd; ) {
      const { bytesRead } = await handle.read(data, got, Math.min(dataEnd - got, 1 << 30), header.dataStart + got);
      if (bytesRead === 0) fail(file, `file shrank while reading (got ${got} of ${dataEnd} data bytes)`);
      got += bytesRead;
    }
    const out = new Map<string, LoadedTensor>();
    for (const e of header.entries) {
      const bytes = data.subarray(e.begin, e.end);
      // Little-endian F32 at a 4-byte boundary (the usual case): a view on the one read buffer, no second copy.
      const f32 = e.dtype === 'F32' && e.begin % 4 === 0 && LITTLE_ENDIAN_HOST;
      const values = f32 ? new Float32Array(data.buffer, e.begin, (e.end - e.begin) / 4) : toFloat32(bytes, e.dtype);
      out.set(e.name, { shape: e.shape, dtype: e.dtype, data: values });
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** Encode tensors as a safetensors file image: float32, in iteration order, contiguous. */
export function encodeSafetensors(
  tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  const list: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new PaprecError('a tensor may not be named __metadata__');
    if (Object.prototype.hasOwnProperty.call(header, name)) throw new PaprecError(`tensor ${name} is given twice`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new PaprecError(`tensor ${name}: shape [${t.shape.join(', ')}] needs ${numel} values, got ${t.data.length}`);
    }
    // defineProperty: a tensor named "__proto__" stays an ordinary key.
    const entry = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + numel * 4] };
    Object.defineProperty(header, name, { value: entry, enumerable: true, writable: true, configurable: true });
    offset += numel * 4;
    list.push(t.data);
  }
  // Metadata last, compact JSON, space padding: the layout of the fixtures' reference writer.
  header.__metadata__ = { format: 'pt', ...metadata };
  let json = JSON.stringify(header);
  const jsonLength = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonLength % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const d of list) {
    // Little-endian hosts only (every platform LibTorch supports); the byte copy keeps every bit.
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Write tensors (float32) as a standard safetensors file, atomically. */
export async function writeSafetensors(
  file: string,
  tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
