import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, type P5Dataset } from '../../src/data/index.js';
import { sequentialExamples, matchingExamples, sampleTrainWindow, numTrainWindows } from '../../src/data/splits.js';
import { rngFor } from '../../src/data/rng.js';

const dataDir = (name: string) => fileURLToPath(new URL(`../../../shared/data/${name}`, import.meta.url));

// ../shared/data/README.md's table (= P5 / PAP-REC Table 4).
const EXPECTED = {
  beauty: { users: 22363, items: 12101, interactions: 198502 },
  sports: { users: 35598, items: 18357, interactions: 296337 },
  toys: { users: 19412, items: 11924, interactions: 167597 },
  yelp: { users: 30431, items: 20033, interactions: 316354 },
} as const;

describe('the four P5 folders of ../shared/data', () => {
  const loaded = new Map<string, { ds: P5Dataset; warnings: string[] }>();
  beforeAll(async () => {
    for (const name of Object.keys(EXPECTED)) {
      const warnings: string[] = [];
      loaded.set(name, { ds: await loadDataset(dataDir(name), { onWarning: (m) => warnings.push(m) }), warnings });
    }
  }, 60_000);

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`${name}: users / items / interactions match the README`, () => {
      const { ds } = loaded.get(name)!;
      const s = ds.stats();
      expect({ users: s.users, items: s.items, interactions: s.interactions }).toEqual(want);
      expect(s.density).toBeCloseTo(want.interactions / (want.users * want.items), 12);
      expect(s.sequenceLength.min).toBe(5); // P5's 5-core
      expect(s.sequenceLength.mean).toBeCloseTo(want.interactions / want.users, 12);
      expect(ds.users.length).toBe(want.users);
      expect(ds.numItems).toBe(want.items);
      ds.users.forEach((u, i) => expect(u.id).toBe(i + 1));
    });

    it(`${name}: generated negatives are 99 distinct untouched items, and the generation is reported`, () => {
      const { ds, warnings } = loaded.get(name)!;
      expect(ds.negativesFromFile).toBe(false);
      expect(warnings.some((w) => /negative_samples\.txt not found: generated 99/.test(w))).toBe(true);
      for (let i = 0; i < ds.users.length; i += 97) {
        const negs = ds.negatives[i]!;
        const touched = new Set(ds.users[i]!.items);
        expect(negs).toHaveLength(99);
        expect(new Set(negs).size).toBe(99);
        expect(negs.filter((n) => touched.has(n) || n < 1 || n > ds.numItems)).toEqual([]);
      }
    });
  }

  it('toys: datamaps with only id2user / id2item are inverted', () => {
    const { ds } = loaded.get('toys')!;
    expect(ds.datamaps.user2id.size).toBe(19412);
    expect(ds.datamaps.item2id.size).toBe(11924);
    const raw = ds.datamaps.id2item.get(1)!;
    expect(ds.datamaps.item2id.get(raw)).toBe(1);
  });

  it('yelp: repeated items in a sequence count as interactions but not as new items', () => {
    const { ds } = loaded.get('yelp')!;
    const withRepeat = ds.users.filter((u) => new Set(u.items).size < u.items.length);
    expect(withRepeat.length).toBeGreaterThan(0);
  });

  it('beauty: median sequence length and max are those of the file', () => {
    const { ds } = loaded.get('beauty')!;
    const lengths = ds.users.map((u) => u.items.length).sort((a, b) => a - b);
    const s = ds.stats();
    expect(s.sequenceLength.max).toBe(lengths[lengths.length - 1]);
    expect(s.sequenceLength.median).toBe((lengths[11181]! + lengths[11181]!) / 2); // 22363 is odd: middle element
  });

  describe('splits on beauty', () => {
    it('val / test: one example per user, leave-last-out, history = the 20 most recent earlier items', () => {
      const { ds } = loaded.get('beauty')!;
      const test = sequentialExamples(ds, 'test');
      const val = sequentialExamples(ds, 'val');
      expect(test).toHaveLength(22363);
      expect(val).toHaveLength(22363);
      // User 1: `1 1 2 3 4 5` in sequential_data.txt.
      expect(test[0]).toEqual({ user: 1, history: [1, 2, 3, 4], target: 5 });
      expect(val[0]).toEqual({ user: 1, history: [1, 2, 3], target: 4 });
      for (let i = 0; i < ds.users.length; i += 50) {
        const items = ds.users[i]!.items;
        const n = items.length;
        expect(test[i]!.target).toBe(items[n - 1]);
        expect(test[i]!.history).toEqual(items.slice(Math.max(0, n - 21), n - 1));
        expect(val[i]!.target).toBe(items[n - 2]);
        expect(val[i]!.history.length).toBe(Math.min(20, n - 2));
      }
      const longest = ds.users.reduce((a, b) => (b.items.length > a.items.length ? b : a));
      expect(test[longest.id - 1]!.history).toHaveLength(20);
      expect(sequentialExamples(ds, 'test', 5)[longest.id - 1]!.history).toEqual(longest.items.slice(-6, -1));
    });

    it('train: every window over the items before the validation target', () => {
      const { ds } = loaded.get('beauty')!;
      const train = sequentialExamples(ds, 'train');
      // Each user of n items has n - 3 windows (targets at t = 1 .. n - 3).
      expect(train).toHaveLength(198502 - 3 * 22363);
      expect(train.filter((e) => e.user === 1)).toEqual([
        { user: 1, history: [1], target: 2 },
        { user: 1, history: [1, 2], target: 3 },
      ]);
      expect(train.reduce((m, e) => Math.max(m, e.history.length), 0)).toBe(20);
    });

    it('sampleTrainWindow draws only training windows, reproducibly', () => {
      const { ds } = loaded.get('beauty')!;
      const u = ds.users.find((x) => x.items.length > 30)!;
      const a = Array.from({ length: 50 }, () => 0).map((_, i) => sampleTrainWindow(ds, u.id, rngFor(7, i)));
      const b = Array.from({ length: 50 }, () => 0).map((_, i) => sampleTrainWindow(ds, u.id, rngFor(7, i)));
      expect(a).toEqual(b);
      const allowed = sequentialExamples({ ...ds, users: [u] } as P5Dataset, 'train');
      expect(allowed).toHaveLength(numTrainWindows(u.items.length));
      for (const w of a) expect(allowed).toContainEqual(w);
      expect(new Set(a.map((w) => w!.target)).size).toBeGreaterThan(5);
    });

    it('matching: target + 99 negatives, shuffled the same way on every call, differently per user and split', () => {
      const { ds } = loaded.get('beauty')!;
      const first = matchingExamples(ds, 'test');
      const again = matchingExamples(ds, 'test');
      expect(again).toEqual(first);
      expect(first).toHaveLength(22363);
      for (let i = 0; i < first.length; i += 101) {
        const ex = first[i]!;
        expect(ex.candidates).toHaveLength(100);
        expect(ex.candidates.filter((c) => c === ex.target)).toHaveLength(1);
        expect(ex.target).toBe(ds.users[i]!.items.at(-1));
        expect([...ex.candidates].sort((a, b) => a - b)).toEqual([ex.target, ...ds.negatives[i]!].sort((a, b) => a - b));
      }
      // The target is not always at the same place: the shuffle is real.
      const positions = new Set(first.slice(0, 200).map((e) => e.candidates.indexOf(e.target)));
      expect(positions.size).toBeGreaterThan(50);
      const val = matchingExamples(ds, 'val');
      const order = (e: { candidates: number[] }) => e.candidates.filter((c) => ds.negatives[0]!.includes(c));
      expect(order(val[0]!)).not.toEqual(order(first[0]!));
    });
  });
});
