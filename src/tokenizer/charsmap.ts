import { fail } from '../errors.js';

/**
 * SentencePiece's precompiled character map (NormalizerSpec.precompiled_charsmap): a little-endian uint32 byte
 * size of a darts-clone double-array trie, the trie's uint32 units, then a blob of NUL-terminated replacement
 * strings. Keys are UTF-8 byte strings; a key's trie value is the offset of its replacement in the blob.
 * Normalization takes, at each position, the LONGEST key that matches (SentencePiece's NormalizePrefix).
 */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly blob: Uint8Array;
  private readonly replacements = new Map<number, string>();

  constructor(bytes: Uint8Array, where: string) {
    if (bytes.length < 4) fail(where, `precompiled charsmap of ${bytes.length} bytes is too short`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > bytes.length || trieSize === 0) {
      fail(where, `precompiled charsmap trie size ${trieSize} does not fit its ${bytes.length} bytes`);
    }
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.blob = bytes.subarray(4 + trieSize);
  }

  /**
   * Longest key that prefixes `key[start..end)`: returns its byte length (0 if none) and writes the blob offset of
   * its replacement to `out[0]`. darts-clone unit layout: bit 8 = has leaf, low 8 bits + bit 31 = label,
   * offset = (unit >> 10) << ((unit & 512) >> 6), value = unit & 0x7fffffff.
   */
  longestMatch(key: Uint8Array, start: number, end: number, out: Int32Array): number {
    const units = this.units;
    let unit = units[0]!;
    let pos = offsetOf(unit);
    let best = 0;
    for (let i = start; i < end; i++) {
      const c = key[i]!;
      pos ^= c;
      if (pos >= units.length) return best;
      unit = units[pos]!;
      if ((unit & 0x800000ff) !== c) return best;
      pos ^= offsetOf(unit);
      if ((unit >>> 8) & 1) {
        best = i + 1 - start;
        out[0] = units[pos]! & 0x7fffffff;
      }
    }
    return best;
  }

  /** Does any key start with byte `b`? (One trie step.) */
  hasKeyStartingWith(b: number): boolean {
    const pos = offsetOf(this.units[0]!) ^ b;
    return pos < this.units.length && (this.units[pos]! & 0x800000ff) === b;
  }

  /** The replacement string stored at `offset` of the blob (decoded once, then cached). */
  replacement(offset: number): string {
    let s = this.replacements.get(offset);
    if (s === undefined) {
      let e = offset;
      while (e < this.blob.length && this.blob[e] !== 0) e++;
      s = DECODER.decode(this.blob.subarray(offset, e));
      this.replacements.set(offset, s);
    }
    return s;
  }
}

const DECODER = new TextDecoder('utf-8');

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & 512) >>> 6);
}
