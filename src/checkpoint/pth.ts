/**
 * `torch.save(state_dict)` files (the zip format of torch >= 1.6, what P5 released): a zip holding
 * `<archive>/data.pkl` (the pickled OrderedDict), `<archive>/data/<key>` (one raw storage per key),
 * `<archive>/version` and maybe `<archive>/byteorder`.
 *
 * The pickle may name only the globals a state dict needs (`resolveGlobal` in parsePth); anything else (`os.system`,
 * `builtins.eval`, ...) is refused by name before it could matter: the reader never runs Python, and the only JS
 * it calls is the small table below. Tensors are materialised as float32 copies, honouring storage offset and
 * strides (tied tensors share one storage in the file; each name gets its own array).
 */
import { unzipSync } from 'fflate';
import { PaprecError, fail } from '../errors.js';
import { readFileOrFail } from '../util/fs.js';
import { DTYPE_SIZE, type FloatDtype, toFloat32 } from './dtype.js';
import { type PickleCallable, unpickle } from './pickle.js';
import type { LoadedTensor } from './safetensors.js';

/** A storage class named in a persistent id (torch.FloatStorage, ...). */
interface StorageType {
  readonly storageType: string;
  readonly dtype: FloatDtype;
}

class Storage {
  decoded?: Float32Array;
  constructor(readonly key: string, readonly dtype: FloatDtype, readonly bytes: Uint8Array, readonly numel: number) {}
}

class PthTensor {
  constructor(readonly shape: number[], readonly dtype: FloatDtype, readonly data: Float32Array) {}
}

const STORAGE_TYPES: Record<string, FloatDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
};

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
}

/** Read a torch.save zip; returns its tensors (float32) under their stored names (`module.` not yet stripped). */
export async function readPth(file: string): Promise<Map<string, LoadedTensor>> {
  const raw = await readFileOrFail(file, 'torch checkpoint (.pth)');
  return parsePth(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), file);
}

export function parsePth(raw: Uint8Array, file: string): Map<string, LoadedTensor> {
  if (raw.byteLength >= 2 && raw[0] === 0x80 && raw[1] === 0x02) {
    fail(file, 'a legacy (pre-1.6, non-zip) torch.save file; re-save it with torch >= 1.6 or convert it to safetensors');
  }
  if (raw.byteLength < 4 || raw[0] !== 0x50 || raw[1] !== 0x4b) fail(file, 'not a torch.save zip archive (no zip signature)');
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(raw);
  } catch (err) {
    throw new PaprecError(`${file}: cannot read the torch.save zip archive (${(err as Error).message})`);
  }
  const pkl = Object.keys(entries).filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    fail(file, pkl.length === 0 ? 'no <archive>/data.pkl in the zip: not a torch.save file' : `several data.pkl entries: ${pkl.join(', ')}`);
  }
  const archive = pkl[0]!.slice(0, -'/data.pkl'.length);
  const byteorderEntry = entries[`${archive}/byteorder`];
  const byteorder = byteorderEntry ? new TextDecoder().decode(byteorderEntry).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') fail(`${file}:${archive}/byteorder`, `unknown byte order ${JSON.stringify(byteorder)}`);
  const littleEndian = byteorder === 'little';
  const source = `${file}:${archive}/data.pkl`;

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      fail(source, `persistent id ${describePid(pid)} is not a ('storage', type, key, location, numel) tuple`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof Object) || !('storageType' in type)) fail(source, `persistent id storage type is not a storage class`);
    if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) {
      fail(source, `persistent id ${describePid(pid)} has a bad key or element count`);
    }
    const { dtype } = type as StorageType;
    const have = storages.get(key);
    if (have) {
      if (have.dtype !== dtype) fail(source, `storage ${key} is used as both ${have.dtype} and ${dtype}`);
      return have;
    }
    const entryName = `${archive}/data/${key}`;
    const bytes = entries[entryName];
    if (!bytes) fail(file, `storage ${entryName} named by data.pkl is missing from the zip`);
    if (bytes.byteLength < (numel as number) * DTYPE_SIZE[dtype]) {
      fail(file, `storage ${entryName} has ${bytes.byteLength} bytes, ${numel} ${dtype} values need ${(numel as number) * DTYPE_SIZE[dtype]}`);
    }
    const s = new Storage(key, dtype, bytes, numel as number);
    storages.set(key, s);
    return s;
  };

  const rebuildTensor: PickleCallable = (storage, offset, size, stride) => {
    if (!(storage instanceof Storage)) throw new PaprecError(`${source}: _rebuild_tensor_v2 called without a storage`);
    const s = storage;
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new PaprecError(`${source}: bad storage offset ${String(offset)}`);
    if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
      throw new PaprecError(`${source}: bad tensor size ${JSON.stringify(size)} / stride ${JSON.stringify(stride)}`);
    }
    return new PthTensor(size, s.dtype, materialise(s, offset as number, size, stride, littleEndian, source));
  };
  const rebuildParameter: PickleCallable = (data) => {
    if (!(data instanceof PthTensor)) throw new PaprecError(`${source}: _rebuild_parameter called without a tensor`);
    return data;
  };
  const orderedDict: PickleCallable = Object.assign(() => new Map<unknown, unknown>(), {
    // OrderedDict's BUILD state is its instance __dict__ (torch puts `_metadata` there): not needed for loading.
    setState: () => undefined,
  });

  const resolveGlobal = (module: string, name: string): unknown => {
    const full = `${module}.${name}`;
    if (full === 'collections.OrderedDict') return orderedDict;
    if (full === 'torch._utils._rebuild_tensor_v2') return rebuildTensor;
    if (full === 'torch._utils._rebuild_parameter') return rebuildParameter;
    if (module === 'torch' && name in STORAGE_TYPES) return { storageType: full, dtype: STORAGE_TYPES[name]! } satisfies StorageType;
    return undefined;
  };

  const root = unpickle(entries[pkl[0]!]!, { source, resolveGlobal, persistentLoad });
  if (!(root instanceof Map)) fail(source, 'the pickled object is not a state dict (an OrderedDict of tensors)');
  const out = new Map<string, LoadedTensor>();
  for (const [k, v] of root) {
    if (typeof k !== 'string') fail(source, `state dict key ${String(k)} is not a string`);
    if (!(v instanceof PthTensor)) fail(source, `state dict entry ${k} is not a tensor`);
    out.set(k, { shape: v.shape, dtype: v.dtype, data: v.data });
  }
  return out;
}

function describePid(pid: unknown): string {
  try {
    return JSON.stringify(pid, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Object && 'storageType' in v ? v.storageType : v));
  } catch {
    return String(pid);
  }
}

/** Gather a strided view of a storage into a new contiguous float32 array. */
function materialise(s: Storage, offset: number, size: number[], stride: number[], littleEndian: boolean, source: string): Float32Array {
  const numel = size.reduce((a, b) => a * b, 1);
  if (numel === 0) return new Float32Array(0);
  // Highest element touched must lie inside the storage.
  const last = offset + size.reduce((acc, d, i) => acc + (d - 1) * stride[i]!, 0);
  if (last >= s.numel) {
    throw new PaprecError(`${source}: tensor view [${size.join(', ')}] at offset ${offset} reaches element ${last} of storage ${s.key} (${s.numel} elements)`);
  }
  let contiguous = true;
  for (let i = size.length - 1, expect = 1; i >= 0; i--) {
    if (size[i]! !== 1 && stride[i]! !== expect) contiguous = false;
    expect *= size[i]!;
  }
  // Contiguous (every state-dict tensor in practice): decode just that range, no whole-storage copy.
  if (contiguous) return toFloat32(s.bytes, s.dtype, littleEndian, offset, numel);
  s.decoded ??= toFloat32(s.bytes, s.dtype, littleEndian, 0, s.numel);
  const src = s.decoded;
  const out = new Float32Array(numel);
  const idx = new Array<number>(size.length).fill(0);
  let at = offset;
  for (let n = 0; n < numel; n++) {
    out[n] = src[at]!;
    for (let d = size.length - 1; d >= 0; d--) {
      idx[d]!++;
      at += stride[d]!;
      if (idx[d]! < size[d]!) break;
      at -= stride[d]! * size[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
