/**
 * Small seeded random number generators shared by the whole engine.
 *
 * Every random choice that shapes an example (negatives, candidate order, history joiner, train windows) draws from
 * an RNG keyed on the dataset seed plus what the choice is about (user, split, index). Keying instead of drawing from
 * one global stream is what makes a list identical across calls and independent of the order examples are built in:
 * PAP-REC compares prompts, so every prompt must be scored on exactly the same inputs.
 */

/** A deterministic stream of uniform numbers (mulberry32 core). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). n must be a positive integer <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    // Rejection sampling removes the modulo bias, which matters for small item ranges drawn millions of times.
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Shuffle `arr` in place (Fisher-Yates) and return it. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i] as T;
      arr[i] = arr[j] as T;
      arr[j] = tmp;
    }
    return arr;
  }

  /** One element chosen uniformly. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError('Rng.pick: empty array');
    return arr[this.int(arr.length)] as T;
  }
}

/** splitmix32-style finalizer: spreads one 32-bit word over all bits. */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function hashKey(key: number | string): number {
  if (typeof key === 'string') return hashString(key) ^ 0x9e3779b9;
  if (!Number.isFinite(key)) throw new RangeError(`rngFor: key must be finite, got ${key}`);
  if (Number.isInteger(key) && Math.abs(key) < 2 ** 53) {
    // Fold high and low 32-bit halves so large integers (timestamps, 64-bit-ish seeds) keep their entropy.
    const lo = key >>> 0;
    const hi = Math.floor(key / 4294967296) >>> 0;
    return mix32(lo ^ mix32(hi + 0x632be5ab));
  }
  return hashString(String(key));
}

/** Derive a 32-bit seed from a base seed and any keys (order matters). */
export function deriveSeed(seed: number, ...keys: ReadonlyArray<number | string>): number {
  let h = mix32(hashKey(seed) + 0x9e3779b9);
  for (const key of keys) h = mix32((h ^ hashKey(key)) + 0x9e3779b9 + ((h << 6) >>> 0) + (h >>> 2));
  return h >>> 0;
}

/** A fresh RNG for (seed, ...keys): the same arguments always give the same stream. */
export function rngFor(seed: number, ...keys: ReadonlyArray<number | string>): Rng {
  return new Rng(deriveSeed(seed, ...keys));
}
