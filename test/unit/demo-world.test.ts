import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWorld, pyStr, verbFor, worldFiles, writeWorld, type World } from '../../src/demo/world.js';
import { loadDataset } from '../../src/data/index.js';
import { parsePythonLiteral } from '../../src/data/pyLiteral.js';
import { PaprecError } from '../../src/errors.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-demo-world-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const world = generateWorld({ seed: 7 });

/** HR@10 of each user's last item, from training transitions only (the test targets never enter the counts). */
function hitRates(w: World): { popularity: number; successor: number } {
  const seqs = w.users.map((u) => u.interactions.map((x) => x.item));
  const pop = new Map<number, number>();
  const trans = new Map<number, Map<number, number>>();
  for (const s of seqs) {
    const train = s.slice(0, -1);
    train.forEach((item, i) => {
      pop.set(item, (pop.get(item) ?? 0) + 1);
      if (i > 0) {
        const prev = train[i - 1] as number;
        const m = trans.get(prev) ?? new Map<number, number>();
        m.set(item, (m.get(item) ?? 0) + 1);
        trans.set(prev, m);
      }
    });
  }
  const ranked = (m: Map<number, number>) => [...m.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map((e) => e[0]);
  const popular = ranked(pop);
  let hitPop = 0;
  let hitSucc = 0;
  for (const s of seqs) {
    const target = s[s.length - 1] as number;
    const history = new Set(s.slice(0, -1));
    const popTop = popular.filter((i) => !history.has(i)).slice(0, 10);
    if (popTop.includes(target)) hitPop++;
    const succ = ranked(trans.get(s[s.length - 2] as number) ?? new Map()).filter((i) => !history.has(i));
    for (const i of popTop) if (!succ.includes(i)) succ.push(i);
    if (succ.slice(0, 10).includes(target)) hitSucc++;
  }
  return { popularity: hitPop / seqs.length, successor: hitSucc / seqs.length };
}

describe('generateWorld', () => {
  it('has the default demo size and valid sequences', () => {
    expect(world.users.length).toBeGreaterThanOrEqual(500);
    expect(world.users.length).toBeLessThanOrEqual(800);
    expect(world.items.length).toBeGreaterThanOrEqual(150);
    expect(world.items.length).toBeLessThanOrEqual(300);
    expect(world.categories.length).toBeGreaterThanOrEqual(8);
    world.items.forEach((it, i) => {
      expect(it.id).toBe(i + 1);
      expect(it.features.length).toBeGreaterThanOrEqual(2);
      expect(it.features.length).toBeLessThanOrEqual(4);
      expect(it.title.split(' ').length).toBeGreaterThanOrEqual(3);
      expect(it.successors).not.toContain(it.id);
    });
    expect(new Set(world.items.map((it) => it.title)).size).toBe(world.items.length);
    for (const u of world.users) {
      const items = u.interactions.map((x) => x.item);
      expect(items.length).toBeGreaterThanOrEqual(5);
      expect(items.length).toBeLessThanOrEqual(20);
      expect(new Set(items).size).toBe(items.length); // no repeated purchase
      for (let i = 1; i < u.interactions.length; i++) {
        expect(u.interactions[i]!.time).toBeGreaterThan(u.interactions[i - 1]!.time);
      }
    }
  });

  it('numbers items by first appearance, as P5 datamaps do', () => {
    let next = 1;
    const seen = new Set<number>();
    for (const u of world.users) {
      for (const x of u.interactions) {
        if (seen.has(x.item)) continue;
        expect(x.item).toBe(next++);
        seen.add(x.item);
      }
    }
  });

  it('has sequential signal: a first-order successor model beats most-popular on HR@10 by a wide margin', () => {
    const hr = hitRates(world);
    expect(hr.successor).toBeGreaterThan(hr.popularity + 0.25);
    expect(hr.successor).toBeGreaterThan(2 * hr.popularity);
  });

  it('has no sequential signal when successors are switched off (the margin comes from the successor structure)', () => {
    const flat = hitRates(generateWorld({ seed: 7, users: 400, successorProb: 0 }));
    expect(flat.successor).toBeLessThan(flat.popularity + 0.1);
  });

  it("ties a user's taste to the sign-up campaign (id mod categories) only when campaignTaste is set", () => {
    const share = (w: World) => {
      const category = new Map(w.items.map((it) => [it.id, it.category]));
      let hits = 0;
      let total = 0;
      for (const u of w.users) {
        for (const x of u.interactions) {
          if (category.get(x.item) === u.id % w.options.categories) hits++;
          total++;
        }
      }
      return hits / total;
    };
    const opts = { seed: 7, users: 400, items: 120, categories: 10, maxLength: 12 };
    const plain = share(generateWorld(opts));
    const campaign = share(generateWorld({ ...opts, campaignTaste: 2 }));
    expect(plain).toBeLessThan(0.15); // 10 categories: about 1 in 10 by chance
    expect(campaign).toBeGreaterThan(plain + 0.15);
    expect(() => generateWorld({ seed: 7, campaignTaste: -1 })).toThrow(/campaignTaste/);
  });

  it('writes explanations from the item features whose polarity follows the rating', () => {
    const byId = new Map(world.items.map((it) => [it.id, it]));
    let low = 0;
    let high = 0;
    for (const u of world.users) {
      for (const x of u.interactions) {
        const it = byId.get(x.item)!;
        expect(it.features).toContain(x.feature);
        const lead = `the ${x.feature} ${verbFor(x.feature)} `;
        expect(x.explanation.startsWith(lead)).toBe(true);
        const k = it.features.indexOf(x.feature);
        expect(Number.isInteger(x.rating) && x.rating >= 1 && x.rating <= 5).toBe(true);
        const first = x.explanation.slice(lead.length).split(' ')[0];
        if (x.rating >= 3) {
          expect(first).toBe(it.positive[k]);
          high++;
        } else {
          expect(first).toBe(it.negative[k]);
          low++;
        }
      }
    }
    expect(low).toBeGreaterThan(50);
    expect(high).toBeGreaterThan(50);
  });

  it('samples 99 distinct never-touched negatives per user', () => {
    world.users.forEach((u, i) => {
      const neg = world.negatives[i]!;
      expect(neg).toHaveLength(99);
      expect(new Set(neg).size).toBe(99);
      const touched = new Set(u.interactions.map((x) => x.item));
      for (const n of neg) {
        expect(touched.has(n)).toBe(false);
        expect(n >= 1 && n <= world.items.length).toBe(true);
      }
    });
  });

  it('splits every review 80/10/10', () => {
    const total = world.users.reduce((s, u) => s + u.interactions.length, 0);
    const { train, val, test } = world.reviewSplits;
    expect(train.length + val.length + test.length).toBe(total);
    expect(Math.abs(train.length / total - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(val.length / total - 0.1)).toBeLessThan(0.01);
  });

  it('rejects options that cannot make a P5 folder', () => {
    expect(() => generateWorld({ seed: 1, items: 100 })).toThrow(PaprecError); // < maxLength + 99
    expect(() => generateWorld({ seed: 1, minLength: 2 })).toThrow(/minLength/);
    expect(() => generateWorld({ seed: 1.5 })).toThrow(/seed/);
  });
});

describe('writeWorld', () => {
  it('is deterministic: same seed, identical bytes; another seed, other bytes', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    await writeWorld(generateWorld({ seed: 7 }), a);
    await writeWorld(generateWorld({ seed: 7 }), b);
    const names = readdirSync(a).sort();
    expect(names).toEqual(['datamaps.json', 'exp_splits.pkl', 'meta.json.gz', 'negative_samples.txt', 'sequential_data.txt']);
    for (const n of names) expect(readFileSync(path.join(b, n)).equals(readFileSync(path.join(a, n)))).toBe(true);
    const other = worldFiles(generateWorld({ seed: 8 }));
    expect(Buffer.from(other.get('sequential_data.txt')!).equals(readFileSync(path.join(a, 'sequential_data.txt')))).toBe(false);
  });

  it('loads with the P5 reader: sequences, negatives, titles and explanation reviews', async () => {
    const dir = path.join(tmp, 'load');
    await writeWorld(world, dir);
    const warnings: string[] = [];
    const ds = await loadDataset(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(ds.negativesFromFile).toBe(true);
    expect(ds.users.length).toBe(world.users.length);
    expect(ds.numItems).toBe(world.items.length);
    ds.users.forEach((u, i) => expect(u.items).toEqual(world.users[i]!.interactions.map((x) => x.item)));
    ds.negatives.forEach((n, i) => expect(n).toEqual(world.negatives[i]));
    expect(ds.titles?.size).toBe(world.items.length);
    expect(ds.titles?.get(5)).toBe(world.items[4]!.title);
    const reviews = ds.reviews!;
    expect(reviews.train.length).toBe(world.reviewSplits.train.length);
    expect(reviews.test.length).toBe(world.reviewSplits.test.length);
    const r0 = world.reviewSplits.val[0]!;
    expect(reviews.val[0]).toMatchObject({
      user: Number(r0.reviewerID.slice(1)),
      item: Number(r0.asin.slice(1)),
      rating: r0.overall,
      explanation: r0.explanation,
      feature: r0.feature,
    });
  });

  it('writes meta.json.gz as Python-literal lines with single-quoted keys', () => {
    const meta = gunzipSync(worldFiles(world).get('meta.json.gz')!).toString('utf8').trimEnd().split('\n');
    expect(meta).toHaveLength(world.items.length);
    expect(meta[0]!.startsWith("{'asin': 'I0001', 'title': ")).toBe(true);
    const first = parsePythonLiteral(meta[0]!) as Record<string, unknown>;
    expect(first).toEqual({ asin: 'I0001', title: world.items[0]!.title, categories: [world.categories[world.items[0]!.category]!.path] });
  });

  it('quotes Python strings as repr() does', () => {
    expect(pyStr('abc')).toBe("'abc'");
    expect(pyStr("it's")).toBe('"it\'s"');
    expect(pyStr('a\'b"c')).toBe("'a\\'b\"c'");
    expect(pyStr('back\\slash\n')).toBe("'back\\\\slash\\n'");
    for (const s of ["it's", 'a\'b"c', 'back\\slash\n', 'Bath & Body']) expect(parsePythonLiteral(pyStr(s))).toBe(s);
  });
});
