// Seeded random example rows at P5 shapes for the engine benches (word-start-ish ids, </s> last).
import type { ExampleSet } from '../src/types.js';

export function randomRows(count: number, length: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  return Array.from({ length: count }, () => {
    const len = Math.max(3, length - 5 + (next() % 11)); // ~length +- 5
    const row = Array.from({ length: len - 1 }, () => 3 + (next() % (vocab - 200)));
    row.push(1);
    return row;
  });
}

/** An ExampleSet of random rows with `slots` task slots just before </s> and a user slot per row. */
export function randomExampleSet(count: number, length: number, vocab: number, slots: number, seed: number): ExampleSet {
  const inputs = randomRows(count, length, vocab, seed);
  const targets = randomRows(count, 4, vocab, seed + 1).map((r) => [...r.slice(0, 3), 1]);
  const cat = (rows: number[][]) => Int32Array.from(rows.flat());
  const offsets = (rows: number[][]) => {
    const o = new Int32Array(rows.length + 1);
    rows.forEach((r, i) => (o[i + 1] = o[i]! + r.length));
    return o;
  };
  const users = Math.max(1, Math.floor(count / 4));
  return {
    task: 'sequential',
    split: 'val',
    size: count,
    inputIds: cat(inputs),
    inputOffsets: offsets(inputs),
    wholeWordIds: cat(inputs.map((r) => r.map((_, i) => (i < r.length - 1 ? Math.min(i + 1, 511) : 0)))),
    numTaskSlots: slots,
    hasUserSlot: true,
    slotPositions: cat(inputs.map((r) => [...Array.from({ length: slots }, (_, j) => r.length - 2 - slots + j), r.length - 2])),
    targetIds: cat(targets),
    targetOffsets: offsets(targets),
    userIndex: Int32Array.from({ length: count }, (_, i) => i % users),
    numUsers: users,
  };
}

/**
 * The model the engine benches build (random weights): PAPREC_BENCH_MODEL, a preset name (default p5-small;
 * t5-v1_1-small for the T5 v1.1 / Flan-T5 shape: gated-GELU, untied head, 6 heads of 64, 8 + 8 blocks), and
 * PAPREC_BENCH_DTYPE (fp32 default, bf16 where the engine accepts it).
 */
export function benchModel(): { preset: string; dtype: 'fp32' | 'bf16' } {
  const dtype = process.env.PAPREC_BENCH_DTYPE ?? 'fp32';
  if (dtype !== 'fp32' && dtype !== 'bf16') throw new Error(`PAPREC_BENCH_DTYPE must be fp32 or bf16, got "${dtype}"`);
  return { preset: process.env.PAPREC_BENCH_MODEL ?? 'p5-small', dtype };
}
