// One protocol: the test numbers in a search's report are the numbers `paprec eval` gives for the prompt file the
// search wrote, with the same seed (every row, every run: ranking and explanation, personalized included).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { pretrain } from '../../src/train/index.js';
import { runSearch } from '../../src/search/run.js';
import { runEval } from '../../src/protocol/eval.js';
import type { Task } from '../../src/types.js';

let tmp: string;
let data: string;
let tokenizer: string;
let model: string;
const SEED = 9;
const USERS = 24;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-protocol-'));
  const demo = await writeDemoData(tmp, { seed: 4, users: 40, items: 110, categories: 5, minLength: 5, maxLength: 8, successorProb: 0.9 });
  data = demo.dataDir;
  tokenizer = demo.tokenizerPath;
  const tok = await loadTokenizer(tokenizer);
  model = path.join(tmp, 'model');
  // A few epochs, so the ranking rows have hits to disagree on (a random model ranks nothing).
  await pretrain({
    data, tokenizer, out: model, epochs: 6, batchSize: 32, lr: 3e-3, device: 'cpu', seed: 1, validationUsers: 10,
    tasks: ['sequential', 'explanation'], sequentialPerUser: 6,
    config: { vocabSize: tok.vocabSize, dModel: 48, dKv: 12, dFf: 96, numHeads: 4, numLayers: 2, numDecoderLayers: 2 },
  });
}, 300_000);

afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

async function searchThenEval(task: Task, extra: Record<string, unknown>): Promise<void> {
  const out = path.join(tmp, `search-${task}`);
  const r = await runSearch({
    out, data, model, tokenizer, task, personalized: true, length: 3, k: 3, epochs: 3, runs: 2, maxUsers: USERS, seed: SEED,
    device: 'cpu', gradientSample: 64, ...extra,
  });
  expect(r.interrupted).toBe(false);
  // The report's table, as report.json holds it (summarised by src/report, as paprec eval's is).
  const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8')) as { rows: Array<{ kind: string; metrics: Record<string, { mean: number; std: number; n: number; values: number[] }> }> };
  const byKind = (kind: string) => report.rows.find((p) => p.kind === kind)!;
  const common = { data, model, tokenizer, task, runs: 2, maxUsers: USERS, seed: SEED, device: 'cpu',
    ...(extra.testBeams !== undefined ? { beams: extra.testBeams as number } : {}), ...(extra.maxLength !== undefined ? { maxLength: extra.maxLength as number } : {}) };
  const cases: Array<[string, string]> = [['seen manual', 'seen'], ['unseen manual', 'unseen'],
    ['non-personalized', `${out}/prompt.json#0`], ['personalized', `${out}/prompt.json#1`]];
  let nonZero = 0;
  for (const [kind, prompt] of cases) {
    const e = await runEval({ ...common, prompt });
    expect(e.runsCompleted).toBe(2);
    const mine = e.table.rows[0]!.metrics;
    const theirs = byKind(kind).metrics;
    for (const name of Object.keys(e.metrics)) {
      const pick = (m: { mean: number; std: number; n: number; values: number[] }) => ({ mean: m.mean, std: m.std, n: m.n, values: m.values });
      expect(pick(mine[name]!), `${task} ${kind} ${name}`).toEqual(pick(theirs[name]!));
      if (mine[name]!.mean > 0) nonZero++;
    }
  }
  expect(nonZero).toBeGreaterThan(0); // a comparison of zeros would show nothing
}

describe('one protocol: search report = paprec eval', () => {
  it('sequential (test protocol defaults: beam 20, top 10, max length 50)', async () => {
    await searchThenEval('sequential', {});
  }, 300_000);

  it('explanation (fewer test beams and a shorter length, given to both)', async () => {
    await searchThenEval('explanation', { beams: 2, testBeams: 2, maxLength: 10 });
  }, 300_000);
});
