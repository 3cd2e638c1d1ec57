// `paprec eval` end to end: a tiny random P5 over the first 50 Beauty users, manual and searched prompts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backbone } from '../../src/backbone/index.js';
import { formatEvalTable, runEval } from '../../src/protocol/eval.js';
import { loadDataset } from '../../src/data/index.js';
import { popularRanks, trainingPopularity } from '../../src/baselines/popular.js';
import { promptExamples } from '../../src/prompts/index.js';

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const data = path.join(shared, 'data/beauty');
const tokenizer = path.join(shared, 'data/t5/spiece.model');
let dir: string;
let model: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'paprec-eval-'));
  model = path.join(dir, 'model');
  const b = await Backbone.create(
    { vocabSize: 32100, dModel: 32, dKv: 8, dFf: 64, numHeads: 2, numLayers: 1, numDecoderLayers: 1, wholeWordEmbeddings: true },
    { seed: 3 },
  );
  await b.save(model);
  b.dispose();
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('paprec eval', () => {
  it('sequential, seen prompt, 2 runs, popular baseline: table and JSON', async () => {
    const json = path.join(dir, 'seq.json');
    const lines: string[] = [];
    const r = await runEval(
      { data, model, tokenizer, task: 'sequential', prompt: 'seen', runs: 2, beams: 4, maxLength: 5, maxUsers: 50, device: 'cpu', baseline: 'popular', json },
      { progress: (l) => lines.push(l) },
    );
    expect(r.runsCompleted).toBe(2);
    expect(r.examples).toBe(50);
    expect(Object.keys(r.metrics)).toEqual(['HR@5', 'NDCG@5', 'HR@10', 'NDCG@10']);
    for (const s of Object.values(r.metrics)) {
      expect(s.values).toHaveLength(r.table.rows[0]!.identical ? 1 : 2); // identical runs are reported as one
      expect(s.mean).toBeGreaterThanOrEqual(0);
      expect(s.mean).toBeLessThanOrEqual(1);
    }
    // the popularity baseline is deterministic given the users: identical across runs, std 0
    expect(r.baseline!.metrics['HR@10']!.std).toBe(0);
    const written = JSON.parse(readFileSync(json, 'utf8'));
    expect(written.metrics['HR@5'].values).toEqual(r.metrics['HR@5']!.values);
    const table = formatEvalTable(r);
    expect(table).toMatch(/HR@5\s+NDCG@5\s+HR@10\s+NDCG@10/);
    expect(table).toMatch(/popular/);
    expect(lines.some((l) => /run 2\/2 done/.test(l))).toBe(true);
  }, 60_000);

  it('matching with a searched personalized prompt file; Ctrl-C (shouldStop) stops after the first run', async () => {
    const file = path.join(dir, 'prompt.json');
    // ids of word-start pieces of the T5 vocabulary: "▁the" etc. (any word-start id works for a random model)
    writeFileSync(file, JSON.stringify({ task: 'matching', prompts: [{ taskTokens: { ids: [8, 13, 16] }, userTokens: [{ user: 1, id: 37 }, { user: 2, id: 44 }] }] }));
    let calls = 0;
    const r = await runEval(
      { data, model, tokenizer, task: 'matching', prompt: file, runs: 3, beams: 2, maxLength: 4, maxUsers: 10, device: 'cpu' },
      { shouldStop: () => calls++ > 0 },
    );
    expect(r.runsCompleted).toBe(1);
    expect(r.interrupted).toBe(true);
    expect(Object.keys(r.metrics)).toEqual(['HR@1', 'HR@5', 'NDCG@5', 'HR@10', 'NDCG@10']);
  }, 60_000);

  it('rejects a prompt file for another task and a wrong --baseline use', async () => {
    const file = path.join(dir, 'other.json');
    writeFileSync(file, JSON.stringify({ task: 'sequential', taskTokens: [8] }));
    await expect(runEval({ data, model, tokenizer, task: 'matching', prompt: file, maxUsers: 5, device: 'cpu' })).rejects.toThrow(
      /prompt is for task sequential/,
    );
    await expect(
      runEval({ data, model, tokenizer, task: 'explanation', prompt: 'seen', baseline: 'popular', maxUsers: 5, device: 'cpu' }),
    ).rejects.toThrow(/not for the explanation task/);
  });
});

describe('popular baseline', () => {
  it('ranks by training-split counts; matching ranks among the candidates', async () => {
    const ds = await loadDataset(data, { maxUsers: 50 });
    const counts = trainingPopularity(ds);
    const seq = promptExamples(ds, 'sequential', 'test', ds.seed, 50);
    const ranks = popularRanks(ds, seq);
    seq.forEach((ex, i) => {
      const t = Number(ex.target);
      const better = Array.from(counts).filter((c, item) => item >= 1 && (c > counts[t]! || (c === counts[t]! && item < t))).length;
      expect(ranks[i]).toBe(better + 1);
    });
    const matching = promptExamples(ds, 'matching', 'test', ds.seed, 50);
    const mr = popularRanks(ds, matching);
    matching.forEach((ex, i) => {
      expect(mr[i]).toBeGreaterThanOrEqual(1);
      expect(mr[i]).toBeLessThanOrEqual(ex.candidates!.length);
    });
  });
});
