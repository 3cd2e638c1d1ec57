/**
 * Floating-point storage types a checkpoint may hold, and their conversion to float32 (the one dtype the native
 * model receives). Names follow safetensors (F32, F16, BF16, F64).
 */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export const DTYPE_SIZE: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export function isFloatDtype(d: unknown): d is FloatDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, d);
}

/** IEEE half -> float32 bits, exact (every half is representable in float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decode `count` elements of `dtype` from `bytes` starting at element `start` into a new Float32Array.
 * Works at any byte alignment (zip entries and file slices are not 4-byte aligned).
 */
export function toFloat32(bytes: Uint8Array, dtype: FloatDtype, littleEndian = true, start = 0, count?: number): Float32Array {
  const size = DTYPE_SIZE[dtype];
  const n = count ?? Math.floor(bytes.byteLength / size) - start;
  const out = new Float32Array(n);
  const base = bytes.byteOffset + start * size;
  if (dtype === 'F32' && littleEndian) {
    // Fast path: a byte copy keeps every bit, NaN payloads included.
    new Uint8Array(out.buffer).set(new Uint8Array(bytes.buffer, base, n * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, base, n * size);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, littleEndian);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, littleEndian);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, littleEndian));
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, littleEndian) << 16;
      break;
    }
  }
  return out;
}
