/**
 * What `paprec demo` runs, in numbers: the world's size, the tiny backbone and its pretraining, and the searches.
 *
 * The numbers are sized for a 2-core CPU (the quick demo under 3 minutes, the full one under 10) and for signal:
 * a small catalogue with strong successor structure, so a backbone trained for a minute or two from scratch learns
 * the sequences well past the popularity baseline, and the prompt search has something to find.
 */
import type { Task } from '../types.js';
import type { WorldOptions } from './world.js';

export interface DemoPlan {
  quick: boolean;
  world: WorldOptions;
  /** The tiny backbone (camelCase P5Config fields; the vocabulary comes from the demo tokenizer). */
  config: { dModel: number; dKv: number; dFf: number; numHeads: number; numLayers: number };
  pretrain: {
    tasks: Task[];
    epochs: number;
    batchSize: number;
    lr: number;
    /** Training windows per user per epoch (more windows: more sequential signal per epoch). */
    sequentialPerUser: number;
    /** Matching examples per user per epoch (each a 100-candidate list: ten times a history's cost). */
    matchingPerUser: number;
    /** Candidates in a training matching list (omitted: the full 100, as evaluation lists them). */
    matchingCandidates?: number;
    validationUsers: number;
  };
  /** The tasks searched, in order (sequential first: it is the demo's headline). */
  tasks: Task[];
  search: {
    /** Task tokens l of the non-personalized search (one length keeps the demo short; the paper tries 5 and 6). */
    length: number;
    /** Maximum epochs per search. */
    epochs: number;
    k: number;
    /** Test runs of the table (they differ by the rendering seed). */
    runs: number;
    /** Training rows per gradient pass. */
    gradientSample: number;
    /** Explanation: generated length (tokens, start included) and beams. */
    maxLength: number;
    beams: number;
    /** Per task: search and test on users 1..N only (matching inputs hold 100 candidates: ten times a history's cost). */
    maxUsers: Partial<Record<Task, number>>;
    /** Tasks whose personalized search runs again with `--user-accept last-train`, as one more row of the table. */
    userAccept: Task[];
    /** Ranking tasks whose prompts are also decoded constrained to the row's candidates (`eval --constrained`). */
    constrained: Task[];
  };
}

/** The plan of a quick (`--quick`) or full demo for a seed. */
export function demoPlan(quick: boolean, seed: number): DemoPlan {
  const world: WorldOptions = {
    seed,
    users: 400,
    // The fewest items a 99-negative matching list allows with sequences of up to 12: every item is seen often.
    items: 120,
    categories: 10,
    minLength: 5,
    maxLength: 12,
    successorProb: 0.75,
    // Re-buys of recent items: the history signal a from-scratch backbone picks up first (copying from its input),
    // within the couple of minutes a 2-core CPU gives it.
    repeatProb: 0.4,
  };
  return {
    quick,
    world,
    config: { dModel: 64, dKv: 16, dFf: 256, numHeads: 4, numLayers: 2 },
    pretrain: {
      tasks: quick ? ['sequential'] : ['sequential', 'explanation', 'matching'],
      epochs: quick ? 12 : 16,
      batchSize: 64,
      lr: 2e-3,
      sequentialPerUser: 10,
      matchingPerUser: 1,
      validationUsers: 200,
    },
    tasks: quick ? ['sequential'] : ['sequential', 'explanation', 'matching'],
    search: {
      length: 5,
      epochs: quick ? 3 : 4,
      k: 5,
      runs: quick ? 2 : 3,
      gradientSample: 128,
      maxLength: 24,
      beams: 3,
      maxUsers: { matching: 96 },
      userAccept: ['explanation'],
      constrained: ['matching'],
    },
  };
}
