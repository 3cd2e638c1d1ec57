import { fail } from '../errors.js';
import { idProblem, numberedLines, parseId, splitFields } from './lines.js';
import { rngFor } from './rng.js';

/** P5 samples 99 negatives per user, so a matching list holds 100 candidates. */
export const NUM_NEGATIVES = 99;

/**
 * Draws negatives: `count` distinct items in 1..numItems that the user never touched, uniformly, from the RNG keyed
 * on (seed, 'negatives', user). Keyed per user so a user's negatives do not depend on which other users are loaded
 * (`maxUsers`) or on the order users are processed in. When fewer than `count` items are untouched, all of them are
 * returned (in random order).
 *
 * One sampler serves a whole dataset: membership is a stamp array reused across users instead of two Sets per user,
 * which is most of the cost of generating 2.2 million negatives for Beauty.
 */
export class NegativeSampler {
  private readonly stamp: Uint32Array;
  private epoch = 0;

  constructor(
    private readonly seed: number,
    private readonly numItems: number,
  ) {
    this.stamp = new Uint32Array(numItems + 1);
  }

  sample(user: number, touched: Iterable<number>, count = NUM_NEGATIVES): number[] {
    const { stamp, numItems } = this;
    // Two stamps per user: `used` marks touched items, then also chosen ones.
    const used = (this.epoch += 1);
    let touchedInRange = 0;
    for (const item of touched) {
      if (item >= 1 && item <= numItems && stamp[item] !== used) {
        stamp[item] = used;
        touchedInRange++;
      }
    }
    const available = numItems - touchedInRange;
    const rng = rngFor(this.seed, 'negatives', user);
    if (available <= count) {
      const all: number[] = [];
      for (let i = 1; i <= numItems; i++) if (stamp[i] !== used) all.push(i);
      return rng.shuffle(all);
    }
    const out: number[] = [];
    // Rejection sampling: cheap while untouched items dominate, which is the case for every real dataset.
    if (available > 2 * count) {
      while (out.length < count) {
        const item = 1 + rng.int(numItems);
        if (stamp[item] === used) continue;
        stamp[item] = used;
        out.push(item);
      }
      return out;
    }
    // Dense users: a partial Fisher-Yates over the untouched list.
    const pool: number[] = [];
    for (let i = 1; i <= numItems; i++) if (stamp[i] !== used) pool.push(i);
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(pool.length - i);
      const tmp = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = tmp;
      out.push(pool[i] as number);
    }
    return out;
  }
}

/** One user's negatives (see NegativeSampler; use a sampler when drawing for many users). */
export function sampleNegatives(seed: number, user: number, touched: Iterable<number>, numItems: number, count = NUM_NEGATIVES): number[] {
  return new NegativeSampler(seed, numItems).sample(user, touched, count);
}

export interface NegativesParse {
  /** user id -> negatives, in file order */
  byUser: Map<number, number[]>;
  /** negatives dropped because the user had interacted with them */
  droppedTouched: number;
}

/**
 * Parse `negative_samples.txt` (`user n1 ... n99`). Ids must be positive integers within 1..numItems.
 * A negative the user actually interacted with would put a second copy of a positive in the matching list, so it is
 * dropped and counted (the caller reports the count) rather than failing the whole file.
 */
export function parseNegatives(
  text: string,
  file: string,
  numItems: number,
  itemsOf: (user: number) => ReadonlySet<number> | undefined,
): NegativesParse {
  const byUser = new Map<number, number[]>();
  const lineOf = new Map<number, number>();
  let droppedTouched = 0;
  for (const [line, lineNo] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    const fields = splitFields(line);
    const user = parseId(fields[0] as string);
    if (user === undefined) fail(where, idProblem(fields[0] as string, 'user id', 1));
    const prev = lineOf.get(user);
    if (prev !== undefined) fail(where, `user ${user} is repeated (first seen on line ${prev})`);
    lineOf.set(user, lineNo);
    // A line with no negatives is valid: a user who touched every item has none to sample (tiny datasets).
    const touched = itemsOf(user);
    const negs: number[] = [];
    const seen = new Set<number>();
    for (let i = 1; i < fields.length; i++) {
      const item = parseId(fields[i] as string);
      if (item === undefined) fail(where, idProblem(fields[i] as string, 'item id', i + 1));
      if (item > numItems) fail(where, `item ${item} at field ${i + 1} is beyond the dataset's ${numItems} items`);
      if (touched?.has(item) || seen.has(item)) {
        droppedTouched++;
        continue;
      }
      seen.add(item);
      negs.push(item);
    }
    byUser.set(user, negs);
  }
  return { byUser, droppedTouched };
}
