// Builds src/types.ts ExampleSets from fixture rows (for the engine tests).
import type { ExampleSet } from '../../src/types.js';

export function exampleSet(opts: {
  inputs: number[][];
  targets: number[][];
  wholeWords?: number[][];
  /** slots[i] = positions of row i's slots: task slots first, then the user slot (-1 = none). */
  slots: number[][];
  numTaskSlots: number;
  hasUserSlot: boolean;
  userIndex?: number[];
  numUsers?: number;
  task?: ExampleSet['task'];
}): ExampleSet {
  const cat = (rows: number[][]) => Int32Array.from(rows.flat());
  const offsets = (rows: number[][]) => {
    const o = new Int32Array(rows.length + 1);
    rows.forEach((r, i) => (o[i + 1] = o[i]! + r.length));
    return o;
  };
  const n = opts.inputs.length;
  return {
    task: opts.task ?? 'sequential',
    split: 'val',
    size: n,
    inputIds: cat(opts.inputs),
    inputOffsets: offsets(opts.inputs),
    wholeWordIds: opts.wholeWords ? cat(opts.wholeWords) : new Int32Array(opts.inputs.flat().length),
    numTaskSlots: opts.numTaskSlots,
    hasUserSlot: opts.hasUserSlot,
    slotPositions: cat(opts.slots),
    targetIds: cat(opts.targets),
    targetOffsets: offsets(opts.targets),
    userIndex: Int32Array.from(opts.userIndex ?? opts.inputs.map((_, i) => i)),
    numUsers: opts.numUsers ?? n,
  };
}

/** Rows without their right padding (mask 0). */
export function unpad(rows: number[][], mask: number[][]): number[][] {
  return rows.map((r, i) => r.filter((_, j) => mask[i]![j] === 1));
}
