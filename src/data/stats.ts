import type { DatasetStats } from '../types.js';

/**
 * Counts of a P5 dataset. `items` is the number of distinct items that occur in some sequence (what P5 / PAP-REC
 * Table 4 report), `interactions` the total sequence length (repeated items, as in Yelp, count each time), and
 * density = interactions / (users * items).
 */
export function computeStats(users: ReadonlyArray<{ items: readonly number[] }>): DatasetStats {
  const lengths = users.map((u) => u.items.length).sort((a, b) => a - b);
  const distinct = new Set<number>();
  let interactions = 0;
  for (const u of users) {
    interactions += u.items.length;
    for (const item of u.items) distinct.add(item);
  }
  const n = lengths.length;
  const median = n === 0 ? 0 : n % 2 === 1 ? (lengths[(n - 1) / 2] as number) : ((lengths[n / 2 - 1] as number) + (lengths[n / 2] as number)) / 2;
  return {
    users: n,
    items: distinct.size,
    interactions,
    sequenceLength: {
      min: n === 0 ? 0 : (lengths[0] as number),
      max: n === 0 ? 0 : (lengths[n - 1] as number),
      mean: n === 0 ? 0 : interactions / n,
      median,
    },
    density: n === 0 || distinct.size === 0 ? 0 : interactions / (n * distinct.size),
  };
}

/** A human-readable table of the stats (for `paprec data stats`). */
export function formatStats(name: string, s: DatasetStats): string {
  const int = (x: number) => x.toLocaleString('en-US');
  const rows: [string, string][] = [
    ['users', int(s.users)],
    ['items', int(s.items)],
    ['interactions', int(s.interactions)],
    ['sequence length min', int(s.sequenceLength.min)],
    ['sequence length max', int(s.sequenceLength.max)],
    ['sequence length mean', s.sequenceLength.mean.toFixed(2)],
    ['sequence length median', String(s.sequenceLength.median)],
    ['density', `${(s.density * 100).toFixed(4)}%`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`dataset ${name}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}
