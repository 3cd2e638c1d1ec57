// Multi-task pretraining data: seen templates only, keyed randomness, no held-out targets, the packed layout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDataset, type P5Dataset } from '../../src/data/index.js';
import { writeDemoData } from '../../src/demo/index.js';
import { manualText } from '../../src/prompts/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { epochExamples, packTrainData } from '../../src/train/index.js';
import { validationSet } from '../../src/train/validate.js';
import type { Tokenizer } from '../../src/types.js';

let dir: string;
let ds: P5Dataset;
let tokenizer: Tokenizer;
const BEAUTY = path.resolve(__dirname, '../../../shared/data/beauty');

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'paprec-train-data-'));
  const demo = await writeDemoData(dir, { seed: 5, users: 30, items: 130 });
  ds = await loadDataset(demo.dataDir);
  tokenizer = await loadTokenizer(demo.tokenizerPath);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('epochExamples', () => {
  it('mixes the three tasks with seen templates only, never the unseen 2-13, 3-12, 5-8', () => {
    const ex = epochExamples(ds, { tasks: ['sequential', 'matching', 'explanation'], epoch: 0, seed: 1, sequentialPerUser: 3 });
    const ids = new Set(ex.map((e) => e.prompt.id));
    for (const unseen of ['2-13', '3-12', '5-8']) expect(ids.has(unseen)).toBe(false);
    expect(ex.every((e) => e.prompt.kind === 'seen' && e.prompt.task === e.example.task)).toBe(true);
    expect(new Set(ex.map((e) => e.example.task))).toEqual(new Set(['sequential', 'matching', 'explanation']));
    expect(ids.has('2-1') && ids.has('2-3') && ids.has('5-7') && ids.has('3-1')).toBe(true);
  });

  it('never trains on a validation or test target, and matching lists hold the target among 100 candidates', () => {
    const ex = epochExamples(ds, { tasks: ['sequential', 'matching'], epoch: 2, seed: 9, sequentialPerUser: 4 });
    for (const { example: e } of ex) {
      const items = ds.users[e.user - 1]!.items;
      const target = Number(e.target);
      const pos = items.slice(0, items.length - 2).indexOf(target);
      expect(pos, `user ${e.user} target ${target}`).toBeGreaterThanOrEqual(0);
      if (e.task === 'sequential') {
        const t = items.indexOf(target, 1);
        expect(e.history).toEqual(items.slice(Math.max(0, t - 20), t));
      } else {
        expect(e.candidates).toHaveLength(100);
        expect(e.candidates).toContain(target);
      }
    }
  });

  it('matchingPerUser and matchingCandidates: more, shorter training lists, the target always among the user\'s negatives', () => {
    const ex = epochExamples(ds, { tasks: ['matching'], epoch: 1, seed: 3, matchingPerUser: 3, matchingCandidates: 20 });
    const users = new Set(ds.users.filter((u) => u.items.length > 2).map((u) => u.id));
    expect(ex).toHaveLength(3 * users.size);
    for (const { example: e } of ex) {
      expect(e.candidates).toHaveLength(20);
      expect(e.candidates).toContain(Number(e.target));
      const negatives = new Set(ds.negatives[e.user - 1]);
      expect(e.candidates!.filter((c) => c !== Number(e.target)).every((c) => negatives.has(c))).toBe(true);
    }
    expect(() => epochExamples(ds, { tasks: ['matching'], epoch: 0, seed: 3, matchingCandidates: 1 })).toThrow(/matching candidates must be an integer >= 2/);
  });

  it('depends only on (seed, epoch): the same call gives the same examples, another epoch others', () => {
    const o = { tasks: ['sequential', 'matching'] as const, seed: 4, sequentialPerUser: 2 };
    const a = epochExamples(ds, { ...o, tasks: [...o.tasks], epoch: 3 });
    const b = epochExamples(ds, { ...o, tasks: [...o.tasks], epoch: 3 });
    const c = epochExamples(ds, { ...o, tasks: [...o.tasks], epoch: 4 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
  });

  it('successor: sequential prompts whose target is the largest history id + 1, half on real windows, half on random ids', () => {
    const ex = epochExamples(ds, { tasks: ['successor'], epoch: 0, seed: 3, sequentialPerUser: 8 });
    expect(ex.length).toBeGreaterThan(100);
    let real = 0;
    for (const { prompt, example: e } of ex) {
      expect(prompt.kind === 'seen' && prompt.task === 'sequential' && e.task === 'sequential').toBe(true);
      const target = Number(e.target);
      expect(target).toBe(Math.max(...e.history!) + 1);
      expect(target).toBeLessThanOrEqual(ds.numItems);
      const items = ds.users[e.user - 1]!.items;
      const t = e.history!.length;
      const isWindow = items.slice(0, items.length - 2).some((_, i) => i + 1 >= t && items.slice(i + 1 - t, i + 1).join() === e.history!.join());
      if (isWindow) real++;
    }
    // Half of the draws are real windows (a random history that is also a window is all but impossible).
    expect(real / ex.length).toBeGreaterThan(0.35);
    expect(real / ex.length).toBeLessThan(0.65);
    const again = epochExamples(ds, { tasks: ['successor'], epoch: 0, seed: 3, sequentialPerUser: 8 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(ex));
  });

  it('validates on users drawn across the whole id range (seeded), every user when there are no more', () => {
    const users = (n: number) => [...validationSet(ds, tokenizer, n).userIndex].map((u) => u + 1);
    const some = users(10);
    expect(some).toHaveLength(10);
    expect(new Set(some).size).toBe(10);
    expect(some).toEqual([...some].sort((a, b) => a - b));
    expect(some).not.toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(Math.max(...some)).toBeGreaterThan(15);
    expect(users(10)).toEqual(some);
    expect(users(30)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(users(1000)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('keeps the most recent items of a long training history, at most trainHistory of them', () => {
    const full = epochExamples(ds, { tasks: ['sequential'], epoch: 1, seed: 2, sequentialPerUser: 3 });
    const short = epochExamples(ds, { tasks: ['sequential'], epoch: 1, seed: 2, sequentialPerUser: 3, trainHistory: 2 });
    expect(short.length).toBe(full.length);
    let cut = 0;
    short.forEach(({ example: s }, i) => {
      const f = full[i]!.example;
      expect(s.target).toBe(f.target);
      expect(s.history).toEqual(f.history!.slice(-2));
      if (f.history!.length > 2) cut++;
    });
    expect(cut).toBeGreaterThan(0);
  });

  it('refuses the explanation task without explanation data (Beauty here has none)', async () => {
    const beauty = await loadDataset(BEAUTY, { maxUsers: 20 });
    expect(() => epochExamples(beauty, { tasks: ['explanation'], epoch: 0, seed: 1 })).toThrow(/exp_splits\.pkl/);
  });
});

describe('packTrainData', () => {
  it('packs the rendered text and the target with </s>, in the ExampleSet layout', () => {
    const ex = epochExamples(ds, { tasks: ['sequential', 'explanation'], epoch: 0, seed: 1 });
    const d = packTrainData(ex, tokenizer);
    expect(d.inputOffsets).toHaveLength(ex.length + 1);
    for (const i of [0, ex.length - 1]) {
      const row = d.inputIds.subarray(d.inputOffsets[i]!, d.inputOffsets[i + 1]!);
      expect(Array.from(row)).toEqual(tokenizer.encode(manualText(ex[i]!.prompt, ex[i]!.example)));
      expect(Array.from(d.wholeWordIds.subarray(d.inputOffsets[i]!, d.inputOffsets[i + 1]!))).toEqual(tokenizer.wholeWordIds(row));
      const target = d.targetIds.subarray(d.targetOffsets[i]!, d.targetOffsets[i + 1]!);
      expect(Array.from(target)).toEqual(tokenizer.encode(ex[i]!.example.target).slice(0, 64).map((v, k, a) => (k === a.length - 1 ? 1 : v)));
    }
  });
});
