// `paprec recommend` (in process and through bin/paprec.js), `paprec serve` as a process (SIGTERM finishes the
// request in flight) and `paprec eval --constrained`: a tiny random P5 on the demo world, CPU.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { parseUsers, runRecommend } from '../../src/cli/recommend.js';
import { formatEvalTable, runEval } from '../../src/protocol/eval.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin', 'paprec.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-recommend-'));
let data: string;
let tokenizer: string;
let model: string;
let word: number;

beforeAll(async () => {
  const files = await writeDemoData(tmp, { seed: 5, users: 40, items: 120, minLength: 5, maxLength: 12 });
  data = files.dataDir;
  tokenizer = files.tokenizerPath;
  const tok = await loadTokenizer(tokenizer);
  word = tok.pieceToId('\u2581good')!;
  const b = await Backbone.create(
    { vocabSize: tok.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, wholeWordEmbeddings: true },
    { seed: 11, device: 'cpu' },
  );
  model = path.join(tmp, 'model');
  await b.save(model);
  b.dispose();
  // dist/ is what bin/paprec.js runs
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
}, 300_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = () => ({ model, tokenizer, k: 5, beams: 5, constrained: true, batchSize: 2, device: 'cpu' });

describe('paprec recommend', () => {
  it('--users: JSON lines in order, k valid distinct items each, written with -o too', async () => {
    const out = path.join(tmp, 'out', 'recs.jsonl');
    const progress: Array<[number, number]> = [];
    const lines = await runRecommend({ ...base(), prompt: '2-3', data, users: '1,3-4', out, onProgress: (d, t) => progress.push([d, t]) });
    const recs = lines.map((l) => JSON.parse(l));
    expect(recs.map((r) => r.user)).toEqual([1, 3, 4]);
    for (const r of recs) {
      expect(Object.keys(r)).toEqual(['user', 'items', 'scores']);
      expect(r.items).toHaveLength(5);
      expect(new Set(r.items).size).toBe(5);
      for (const i of r.items) expect(i >= 1 && i <= 120).toBe(true);
      expect(r.scores).toHaveLength(5);
    }
    expect(readFileSync(out, 'utf8')).toBe(lines.map((l) => `${l}\n`).join(''));
    expect(progress).toEqual([[2, 3], [3, 3]]); // batches of 2
  });

  it('--input: histories and candidates from JSON lines, with a searched prompt.json', async () => {
    const dir = path.join(tmp, 'search');
    mkdirSync(dir, { recursive: true });
    const prompt = path.join(dir, 'prompt.json');
    writeFileSync(prompt, JSON.stringify({ task: 'sequential', prompts: [{ taskTokens: { ids: [word, word, word] }, userTokens: [{ user: 1, id: word }] }] }));
    const input = path.join(tmp, 'in.jsonl');
    writeFileSync(input, '{"user": 1, "history": [3, 4, 5]}\n\n{"user": 77, "history": [9], "candidates": [10, 20, 30], "k": 3}\n');
    const lines = await runRecommend({ ...base(), constrained: false, prompt, data, input });
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a.user).toBe(1);
    expect(b.user).toBe(77); // not in the data, not in the prompt's table: default user token, own history
    expect([...b.items].sort((x: number, y: number) => x - y)).toEqual([10, 20, 30]);
  });

  it('bad input is an error naming the file, line and field', async () => {
    const input = path.join(tmp, 'bad.jsonl');
    writeFileSync(input, '{"user": 1, "history": [3]}\n{"user": 2, "history": [3, 999]}\n');
    await expect(runRecommend({ ...base(), prompt: '2-3', data, input })).rejects.toThrow(`${input}:2: request.history: unknown item id 999`);
    writeFileSync(input, '{"user": 1}\n{"user": \n');
    await expect(runRecommend({ ...base(), prompt: '2-3', data, input })).rejects.toThrow(new RegExp(`${input}:2: not valid JSON`));
    await expect(runRecommend({ ...base(), prompt: '2-3', data, users: '1', input })).rejects.toThrow(/either --users \(with --data\) or --input/);
    await expect(runRecommend({ ...base(), prompt: '2-3', users: '1' })).rejects.toThrow(/--users needs --data/);
    await expect(runRecommend({ ...base(), k: 9, prompt: '2-3', data, users: '1' })).rejects.toThrow(/-k must be an integer in 1..5/);
    expect(() => parseUsers('3-1', 40)).toThrow(/"3-1" is not a user id or a range/);
    expect(parseUsers('all', 3)).toEqual([1, 2, 3]);
  });

  it('bin/paprec.js recommend prints JSON lines; a bad prompt exits 1 with the reason', () => {
    const out = execFileSync('node', [bin, 'recommend', '--model', model, '--tokenizer', tokenizer, '--prompt', '2-3', '--data', data, '--users', '2', '-k', '3', '--beams', '4', '--constrained', '--device', 'cpu'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = JSON.parse(out.trim());
    expect(r.user).toBe(2);
    expect(r.items).toHaveLength(3);
    let err = '';
    let code = 0;
    try {
      execFileSync('node', [bin, 'recommend', '--model', model, '--tokenizer', tokenizer, '--prompt', '3-1', '--data', data, '--users', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      code = (e as { status: number }).status;
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(code).toBe(1);
    expect(err).toMatch(/^paprec: prompt 3-1: the explanation task generates text, not items/);
  });
});

describe('paprec serve (process)', () => {
  it('serves, and on SIGTERM answers the request in flight, then exits 0', async () => {
    const child = spawn('node', [bin, 'serve', '--model', model, '--tokenizer', tokenizer, '--prompt', '2-3', '--data', data, '--port', '0', '--beams', '20', '-k', '4', '--constrained', '--device', 'cpu'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    // 256 users in one request: 8 engine calls of 32, in flight when SIGTERM comes
    const answer = new Promise<{ status: number; body: any; at: number }>((resolve, reject) => {
      const req = http.request(`${url}/recommend`, { method: 'POST', agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), at: Date.now() }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(Array.from({ length: 256 }, (_, i) => ({ user: (i % 40) + 1 }))));
    });
    await new Promise((r) => setTimeout(r, 20));
    let signalled = 0;
    child.stderr!.on('data', (c: Buffer) => {
      if (!signalled && /SIGTERM/.test(c.toString())) signalled = Date.now();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const a = await answer;
    expect(a.status).toBe(200);
    expect(a.body).toHaveLength(256);
    expect(a.body.every((r: { items: number[] }) => r.items.length === 4)).toBe(true);
    expect(await exited).toBe(0);
    expect(signalled).toBeGreaterThan(0);
    expect(a.at).toBeGreaterThanOrEqual(signalled); // the answer came after the server heard SIGTERM
    expect(stderr).toMatch(/SIGTERM: finishing the requests in flight/);
    expect(stderr).toMatch(/stopped \(1 answered, 0 refused, 8 engine calls\)/);
  }, 120_000);
});

describe('paprec eval --constrained', () => {
  it('reports the constrained metrics beside the unconstrained ones (sequential and matching)', async () => {
    for (const task of ['sequential', 'matching'] as const) {
      const r = await runEval({ data, model, tokenizer, task, prompt: 'seen', runs: 1, beams: 10, maxLength: 8, device: 'cpu', constrained: true });
      expect(Object.keys(r.constrained!)).toEqual(Object.keys(r.metrics));
      const c = r.constrained!;
      for (const s of Object.values(c)) expect(s.mean >= 0 && s.mean <= 1).toBe(true);
      expect(c['HR@5']!.mean).toBeLessThanOrEqual(c['HR@10']!.mean);
      expect(formatEvalTable(r)).toMatch(/seen \(constrained\)/);
      // matching: the target is one of the row's 100 candidates, and every constrained output is one of them
      if (task === 'matching') expect(c['HR@10']!.mean).toBeGreaterThan(0);
    }
    await expect(runEval({ data, model, tokenizer, task: 'explanation', prompt: 'seen', runs: 1, device: 'cpu', constrained: true })).rejects.toThrow(
      /--constrained decodes item ids: not for the explanation task/,
    );
  }, 300_000);
});
