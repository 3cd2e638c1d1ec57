// The PAP-REC search end to end on a tiny random backbone and the demo world (30 users): non-personalized and
// personalized searches run, are deterministic, resume to the same prompts, never end below the starting prompt,
// and write every file of the output folder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { runSearch, rebuildReport } from '../../src/search/index.js';
import { readHistory } from '../../src/search/history.js';
import { loadState } from '../../src/search/state.js';
import { PaprecError } from '../../src/errors.js';

let tmp: string;
let dataDir: string;
let tokenizerPath: string;
let modelDir: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-search-'));
  const demo = await writeDemoData(tmp, { seed: 3, users: 40, items: 140, minLength: 5, maxLength: 8 });
  dataDir = demo.dataDir;
  tokenizerPath = demo.tokenizerPath;
  const tok = await loadTokenizer(tokenizerPath);
  const backbone = await Backbone.create(
    { vocabSize: tok.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, numDecoderLayers: 2, wholeWordSize: 128 },
    { seed: 11 },
  );
  modelDir = path.join(tmp, 'model');
  await backbone.save(modelDir);
  backbone.dispose();
});

afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

/** A search stopped (as by Ctrl-C) once `rounds` rounds have ended. */
async function runStoppedAfter(rounds: number, input: Parameters<typeof runSearch>[0]) {
  const ac = new AbortController();
  let ended = 0;
  return runSearch({ ...input, signal: ac.signal }, (e) => {
    if (e.type === 'search' && (e.step === 'accepted' || e.step === 'rejected') && ++ended === rounds) ac.abort();
  });
}

const base = () => ({ data: dataDir, model: modelDir, tokenizer: tokenizerPath, task: 'sequential', maxUsers: 30, k: 3, seed: 5 });

describe('paprec search on a tiny backbone', () => {
  it('non-personalized: runs, keeps the best prompt, writes the folder, and is deterministic', async () => {
    const outA = path.join(tmp, 'np-a');
    const a = await runSearch({ ...base(), out: outA, length: 3, epochs: 6, runs: 2 });
    expect(a.interrupted).toBe(false);
    const v = a.state.variants[0]!;
    expect(v.bestScore!).toBeGreaterThanOrEqual(v.startScore!);
    for (const f of ['prompt.json', 'history.jsonl', 'report.md', 'report.json', 'surrogate.svg', 'state.json']) {
      expect((await fsp.stat(path.join(outA, f))).size).toBeGreaterThan(0);
    }
    const report = JSON.parse(await fsp.readFile(path.join(outA, 'report.json'), 'utf8'));
    expect(report.rows.map((r: { kind: string }) => r.kind)).toEqual(['seen manual', 'unseen manual', 'non-personalized']);
    expect(report.rows[2].runsMeasured).toBe(2);
    expect(report.rows[2].metrics['HR@5'].n).toBe(report.rows[2].identical ? 1 : 2); // identical runs count once
    const history = await readHistory(path.join(outA, 'history.jsonl'));
    expect(history).toHaveLength(a.state.historyLength);
    expect(history[0]!.kind).toBe('start');
    for (const h of history.slice(1)) expect(h.candidates).toHaveLength(3);

    const b = await runSearch({ ...base(), out: path.join(tmp, 'np-b'), length: 3, epochs: 6, skipTest: true });
    expect(b.state.variants[0]!.best).toEqual(v.best);
    expect(b.state.variants[0]!.curve).toEqual(v.curve);

    // `paprec report` rebuilds the report from the saved state alone.
    await fsp.rm(path.join(outA, 'report.md'));
    await rebuildReport(outA);
    expect(await fsp.readFile(path.join(outA, 'report.md'), 'utf8')).toContain('non-personalized');
  });

  it('personalized: alternates task and user epochs and resumes to the same prompts', async () => {
    // The loss criterion: a random backbone never generates a target item, but its loss moves with every token,
    // so this run accepts task and user tokens and the resume has real decisions to reproduce.
    const opts = { ...base(), length: 2, personalized: true, epochs: 5, criterion: 'loss', skipTest: true };
    const straight = await runSearch({ ...opts, out: path.join(tmp, 'p-straight') });
    const pv = straight.state.variants.find((v) => v.spec.personalized)!;
    expect(pv.bestScore!).toBeGreaterThanOrEqual(pv.startScore!);
    const kinds = (await readHistory(path.join(tmp, 'p-straight', 'history.jsonl'))).filter((h) => h.search === pv.spec.name).map((h) => h.kind);
    expect(kinds.slice(0, 3)).toEqual(['start', 'task', 'user']);
    const accepted = (await readHistory(path.join(tmp, 'p-straight', 'history.jsonl'))).filter((h) => h.accepted);
    expect(accepted.some((h) => h.kind === 'task')).toBe(true);
    expect(accepted.some((h) => h.kind === 'user' && h.usersAccepted! > 0)).toBe(true);
    expect(pv.bestScore!).toBeGreaterThan(pv.startScore!);

    const out = path.join(tmp, 'p-resumed');
    const first = await runStoppedAfter(3, { ...opts, out });
    expect(first.interrupted).toBe(true);
    const mid = await loadState(out);
    expect(mid.historyLength).toBeGreaterThan(0);
    const rest = await runSearch({ out, resume: true });
    expect(rest.interrupted).toBe(false);
    expect(rest.state.variants.map((v) => v.best)).toEqual(straight.state.variants.map((v) => v.best));
    expect(rest.state.variants.map((v) => v.bestScore)).toEqual(straight.state.variants.map((v) => v.bestScore));
  });

  it('a wider pool (B > k ranked by the training loss): pool = k is the plain search, B > k records its pool and resumes to the same prompts', async () => {
    const plain = { ...base(), length: 2, epochs: 3, criterion: 'loss', skipTest: true };
    const a = await runSearch({ ...plain, out: path.join(tmp, 'pool-none') });
    const b = await runSearch({ ...plain, pool: 3, out: path.join(tmp, 'pool-k') });
    const untimed = async (dir: string) => (await readHistory(path.join(tmp, dir, 'history.jsonl'))).map(({ time: _t, ...rest }) => rest);
    expect(await untimed('pool-k')).toEqual(await untimed('pool-none'));
    expect(b.state.variants.map((v) => v.best)).toEqual(a.state.variants.map((v) => v.best));

    // Personalized with the loss criterion (a random backbone's loss moves with every token): task and user pools.
    const opts = { ...base(), length: 2, personalized: true, epochs: 4, criterion: 'loss', pool: 12, poolRows: 40, skipTest: true };
    const straight = await runSearch({ ...opts, out: path.join(tmp, 'pool-straight') });
    expect(straight.state.options).toMatchObject({ k: 3, pool: 12, poolRows: 40 });
    const history = await readHistory(path.join(tmp, 'pool-straight', 'history.jsonl'));
    const rounds = history.filter((h) => h.kind !== 'start');
    expect(rounds.length).toBeGreaterThan(0);
    for (const h of rounds) {
      expect(h.pool!.size).toBe(12);
      expect(h.pool!.top).toHaveLength(3);
      const losses = h.pool!.top.map((c) => c.loss);
      for (const l of losses) expect(Number.isFinite(l) && l > 0).toBe(true);
      if (h.kind === 'task') {
        expect(losses).toEqual([...losses].sort((x, y) => x - y));
        expect(h.pool!.top.map((c) => c.id)).toEqual(h.candidates.map((c) => c.id)); // the loss-ranked k are the scored k
        for (const c of h.pool!.top) expect(c.gradientRank).toBeLessThan(12);
      } else {
        expect(h.pool!.usersRanked).toBeGreaterThan(0);
        expect(h.pool!.usersRanked).toBeLessThanOrEqual(30);
      }
    }
    expect(rounds.some((h) => h.kind === 'task')).toBe(true);
    expect(rounds.some((h) => h.kind === 'user')).toBe(true);
    for (const v of straight.state.variants) expect(v.bestScore!).toBeGreaterThanOrEqual(v.startScore!);

    const out = path.join(tmp, 'pool-resumed');
    const first = await runStoppedAfter(3, { ...opts, out });
    expect(first.interrupted).toBe(true);
    await expect(runSearch({ out, resume: true, pool: 20 })).rejects.toThrow(/--pool: saved 12, now 20/);
    const rest = await runSearch({ out, resume: true });
    expect(rest.interrupted).toBe(false);
    expect(rest.state.variants.map((v) => v.best)).toEqual(straight.state.variants.map((v) => v.best));
    expect(rest.state.variants.map((v) => v.curve)).toEqual(straight.state.variants.map((v) => v.curve));
    expect((await untimed('pool-resumed'))).toEqual(await untimed('pool-straight'));
  });

  it('bad options fail before any work', async () => {
    const out = path.join(tmp, 'bad');
    await expect(runSearch({ ...base(), task: 'ranking', out })).rejects.toThrow(/unknown task "ranking"/);
    await expect(runSearch({ ...base(), length: 0, out })).rejects.toThrow(/length l must be an integer/);
    await expect(runSearch({ ...base(), k: 10_000_000, out })).rejects.toThrow(/k = 10000000 is larger than the vocabulary/);
    const other = await Backbone.create({ vocabSize: 200, dModel: 16, dKv: 4, dFf: 32, numHeads: 4, numLayers: 1, numDecoderLayers: 1 }, { seed: 1 });
    const otherDir = path.join(tmp, 'other-model');
    await other.save(otherDir);
    other.dispose();
    await expect(runSearch({ ...base(), model: otherDir, out })).rejects.toThrow(/vocabulary size 200 is smaller than the tokenizer's/);
    await expect(runSearch({ ...base(), model: otherDir, out })).rejects.toBeInstanceOf(PaprecError);
    await expect(fsp.stat(out)).rejects.toThrow(); // nothing written
  });
});

// Issue #18 item 1: on the test split, a user's token changes that user's rows only, and a user with the default
// token decodes exactly as under an all-default table (checked on explanation texts, where any change shows).
describe('personalized prompts on the test split', () => {
  it('a user token touches only its own rows; default-token users decode as the all-default prompt', async () => {
    const { loadDataset } = await import('../../src/data/index.js');
    const { automatedPrompt } = await import('../../src/prompts/automated.js');
    const { assignmentOfPrompt } = await import('../../src/protocol/evaluate.js');
    const { ResidentExampleSet } = await import('../../src/engine/index.js');
    const { testDecoding } = await import('../../src/protocol/decoding.js');
    const { buildExampleSet } = await import('../../src/prompts/exampleSet.js');
    const tokenizer = await loadTokenizer(tokenizerPath);
    const dataset = await loadDataset(dataDir);
    const backbone = await Backbone.load(modelDir, { device: 'cpu' });
    try {
      const numUsers = dataset.users.length;
      const taskTokens = [tokenizer.pieceToId('▁the')!, tokenizer.pieceToId('▁is')!];
      const allDefault = automatedPrompt(tokenizer, { task: 'explanation', taskTokens, personalized: true, numUsers });
      const set = buildExampleSet(dataset, tokenizer, { task: 'explanation', split: 'test', prompt: allDefault });
      const users = [...new Set(set.userIndex)].slice(0, 3); // 0-based users with test rows get their own tokens
      const table = Int32Array.from(allDefault.userTokens!);
      const tokens = ['▁and', '▁fine', '▁not'].map((p) => tokenizer.pieceToId(p)!);
      users.forEach((u, i) => (table[u] = tokens[i]!));
      const mixed = automatedPrompt(tokenizer, { task: 'explanation', taskTokens, personalized: true, numUsers, userTokens: table });
      // The test protocol's pass (measurePrompt): the prompt's rendered rows, its assignment, the test decoding.
      const d = testDecoding('explanation', { beams: 2, maxLength: 12 });
      const texts = async (p: typeof mixed) => {
        const ex = buildExampleSet(dataset, tokenizer, { task: 'explanation', split: 'test', prompt: p });
        const resident = ResidentExampleSet.upload(backbone, ex, { vocabLimit: tokenizer.vocabSize });
        const assignment = assignmentOfPrompt(p, ex.numUsers);
        const [ids] = await resident.evaluate([assignment], { numBeams: d.numBeams, numReturnSequences: d.numReturnSequences, maxLength: d.maxLength, outcome: d.outcome });
        const [loss] = await resident.loss([assignment]); // per-row and continuous: any change of a row's input shows
        await resident.dispose();
        const w = ids!.length / ex.size;
        return { rows: Array.from({ length: ex.size }, (_, r) => `${Array.from(ids!.subarray(r * w, (r + 1) * w)).join(' ')} | ${loss![r]}`), users: ex.userIndex };
      };
      const a = await texts(allDefault);
      const b = await texts(mixed);
      // Each single-user change moves that user's rows only; every other row is identical to the all-default pass.
      for (const [i, u] of users.entries()) {
        const one = Int32Array.from(allDefault.userTokens!);
        one[u] = tokens[i]!;
        const c = await texts(automatedPrompt(tokenizer, { task: 'explanation', taskTokens, personalized: true, numUsers, userTokens: one }));
        c.users.forEach((v, row) => {
          if (v !== u) expect(c.rows[row]).toBe(a.rows[row]);
          else expect(b.rows[row]).toBe(c.rows[row]); // the mixed table gives u's rows what u's own token gives
        });
      }
      b.users.forEach((v, row) => {
        if (!users.includes(v)) expect(b.rows[row]).toBe(a.rows[row]);
      });
      expect(b.rows.some((x, row) => x !== a.rows[row])).toBe(true); // the tokens do change their users' rows
    } finally {
      await backbone.dispose();
    }
  });

  it('--user-accept last-train searches, resumes its saved option, and refuses a changed one', async () => {
    const out = path.join(tmp, 'p-last-train');
    const r = await runSearch({ ...base(), out, personalized: true, length: 2, epochs: 3, runs: 1, userAccept: 'last-train' });
    expect(r.interrupted).toBe(false);
    expect(r.state.options.userAccept).toBe('last-train');
    const user = (await readHistory(path.join(out, 'history.jsonl'))).find((h) => h.kind === 'user');
    expect(user).toBeDefined();
    expect(await fsp.readFile(path.join(out, 'report.md'), 'utf8')).toMatch(/--user-accept last-train/);
    await expect(runSearch({ out, resume: true, userAccept: 'validation' })).rejects.toThrow(/--user-accept/);
    await expect(runSearch({ ...base(), out: path.join(tmp, 'np-last-train'), userAccept: 'last-train' })).rejects.toThrow(/needs --personalized/);
  });
});
