/**
 * Which slot a task-token round replaces (paper §4.1): one chosen at random among the slots that have not failed
 * since the last accepted change. The draw is keyed on (seed, search, round), so a resumed run draws what the
 * uninterrupted one drew, with no generator state to save.
 */
import { deriveSeed, rngFor } from '../data/rng.js';

export function untriedSlots(length: number, tried: readonly number[]): number[] {
  const failed = new Set(tried);
  const out: number[] = [];
  for (let s = 0; s < length; s++) if (!failed.has(s)) out.push(s);
  return out;
}

/** The slot of task round `round`, or undefined when every slot has failed (the search has converged). */
export function pickSlot(seed: number, search: string, round: number, length: number, tried: readonly number[]): number | undefined {
  const free = untriedSlots(length, tried);
  if (free.length === 0) return undefined;
  return rngFor(seed, 'slot', search, round).pick(free);
}

/** Seed of the training sample behind the gradients of prompt version `version` (a new sample after each change). */
export function gradientSampleSeed(seed: number, search: string, version: number): number {
  return deriveSeed(seed, 'gradient-sample', search, version);
}
