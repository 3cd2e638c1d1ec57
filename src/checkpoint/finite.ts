/**
 * Finite weights, TypeScript side: only for messages. The load-time check itself is native (one isfinite pass per
 * tensor in NativeBackbone.setParameters); this finds the first bad value where TypeScript must explain a refusal
 * first, e.g. tied copies that differ only because one holds an Inf. The wording matches the native check's.
 */
import type { Tensor } from './names.js';

export interface NonFinite {
  index: number[];
  value: 'NaN' | 'Infinity' | '-Infinity';
}

/** The first NaN / Inf of `t` (row-major) with its multi-index, or undefined when every value is finite. */
export function firstNonFinite(t: Pick<Tensor, 'shape' | 'data'>): NonFinite | undefined {
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (Number.isFinite(v)) continue;
    const index: number[] = new Array(t.shape.length).fill(0);
    let rest = i;
    for (let k = t.shape.length - 1; k >= 0; k--) {
      index[k] = rest % t.shape[k]!;
      rest = Math.floor(rest / t.shape[k]!);
    }
    return { index, value: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
  }
  return undefined;
}

export function nonFiniteMessage(name: string, hit: NonFinite): string {
  return `tensor ${name} holds ${hit.value} at [${hit.index.join(', ')}] (weights must be finite)`;
}
