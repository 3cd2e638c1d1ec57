// torch.distributed (c10d, Gloo on 127.0.0.1): 2 processes give the prompts and history of 1; a rank killed mid-round
// stops the other within seconds, naming it, and the search resumes (on 1 process) to the straight run's prompts;
// data-parallel pretraining on 2 processes matches 1; a rendezvous nobody joins times out naming its address. The search
// covers task and user rounds, a gradient sample and a candidate pool (B = 5 > k = 3) ranked by the training loss.
// Skipped, with the reason, on a build without c10d (no gloo headers at build time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../../src/native.js';
import { writeCliWorld } from '../helpers/cliWorld.js';
import { loadState, type RunState } from '../../src/search/state.js';
import { readSafetensors } from '../../src/checkpoint/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const backends = native().info().distBackends ?? '';
if (!backends) console.log('dist tests skipped: this build has no torch.distributed (c10d) support (no gloo headers when it was built)');

let tmp: string;
let data: string;
let tokenizer: string;
let model: string;
let search: string[];

beforeAll(async () => {
  if (!backends) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'paprec-dist-'));
  ({ data, tokenizer, model } = await writeCliWorld(tmp, ROOT));
  search = ['search', '--data', data, '--model', model, '--tokenizer', tokenizer, '--task', 'sequential', '--max-users', '30', '--k', '3',
    '--length', '3', '--personalized', '--epochs', '6', '--criterion', 'loss', '--gradient-sample', '40', '--pool', '5', '--pool-rows', '24',
    '--runs', '1', '--test-beams', '4',
    '--max-length', '8', '--seed', '9', '--device', 'cpu'];
}, 60_000);
afterAll(() => tmp && rmSync(tmp, { recursive: true, force: true }));

interface Run { code: number | null; signal: string | null; stderr: string; stdout: string; seconds: number }

/** `paprec ARGV` as a child (env added to this one's); `onStderr` may act on it. */
function paprec(argv: string[], opts: { env?: Record<string, string>; onStderr?: (text: string, child: ChildProcess) => void } = {}): { child: ChildProcess; done: Promise<Run> } {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(tmp, 'cli.mts'), ...argv], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PAPREC_DIST_TIMEOUT: '60', ...opts.env },
  });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    opts.onStderr?.(stderr, child);
  });
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout, seconds: (Date.now() - started) / 1000 })));
  return { child, done };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The torchrun environment of rank `rank` of `world`. */
const rankEnv = (rank: number, world: number, port: number) => ({
  RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), PAPREC_THREADS: '1',
});

/** What must match between runs: every search's prompts, counters and scores (scores to fp32 rounding). */
function expectSameSearch(got: RunState, want: RunState): void {
  expect(got.variants.length).toBe(want.variants.length);
  got.variants.forEach((v, i) => {
    const w = want.variants[i]!;
    expect({ name: v.spec.name, epoch: v.epoch, round: v.round, version: v.version, current: v.current, best: v.best, status: v.status })
      .toEqual({ name: w.spec.name, epoch: w.epoch, round: w.round, version: w.version, current: w.current, best: w.best, status: w.status });
    expectClose(v.bestScore!, w.bestScore!);
    v.curve.forEach((c, j) => expectClose(c.score, w.curve[j]!.score));
  });
}

/** Equal to fp32 rounding: 1e-5 relative (each row's loss comes from another batch composition). */
function expectClose(x: number, want: number): void {
  expect(Math.abs(x - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
}

/** history.jsonl without the timings: kinds, slots, candidate ids and decisions (exact) and the scores (numbers). */
function history(dir: string): { decisions: Array<Record<string, unknown>>; scores: number[] } {
  const lines = readFileSync(path.join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { candidates: Array<{ id: number; score: number }>; after: number });
  return {
    decisions: lines.map((r) => ({ kind: r.kind, slot: r.slot, accepted: r.accepted, acceptedId: r.acceptedId, usersAccepted: r.usersAccepted, ids: r.candidates.map((c) => c.id) })),
    scores: lines.flatMap((r) => [...r.candidates.map((c) => c.score), r.after]),
  };
}

/** The same decisions; scores equal to fp32 rounding (each row's loss comes from another batch composition). */
function expectSameHistory(got: string, want: string): void {
  const [g, w] = [history(got), history(want)];
  expect(g.decisions).toEqual(w.decisions);
  expect(g.scores.length).toBe(w.scores.length);
  g.scores.forEach((x, i) => expectClose(x, w.scores[i]!));
}

describe.skipIf(!backends)('torch.distributed: Gloo on 127.0.0.1', () => {
  it('collectives: all-reduce, all-gather, broadcast; unequal all-gather lengths are refused by name', async () => {
    const script = path.join(tmp, 'collectives.mts');
    writeFileSync(script, [
      `import { joinFromEnv } from ${JSON.stringify(path.join(ROOT, 'src/dist/join.ts'))};`,
      `const g = (await joinFromEnv('cpu'))!;`,
      `const sum = await g.allReduce(Float32Array.of(g.rank + 1, 0.5));`,
      `const ids = await g.allGather(Int32Array.of(g.rank, 10 * g.rank));`,
      `const state = await g.broadcastJson(g.rank === 0 ? { from: 0, text: 'é' } : undefined);`,
      `const bad = await g.allGather(new Int32Array(2 + g.rank)).then(() => 'resolved', (e) => e.message);`,
      `await g.close();`,
      `console.log(JSON.stringify({ sum: [...sum], ids: [...ids], state, bad }));`,
    ].join('\n'));
    const port = await freePort();
    const runs = [0, 1].map((r) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...rankEnv(r, 2, port), PAPREC_DIST_TIMEOUT: '30' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (err += String(d)));
      return new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
    });
    for (const r of await Promise.all(runs)) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const o = JSON.parse(r.out) as { sum: number[]; ids: number[]; state: unknown; bad: string };
      expect(o.sum).toEqual([3, 1]);
      expect(o.ids).toEqual([0, 0, 1, 10]);
      expect(o.state).toEqual({ from: 0, text: 'é' });
      expect(o.bad).toContain('allGather: the ranks send different lengths (rank 0: 2, rank 1: 3)');
    }
  });

  it.each([
    ['', []],
    [' with --user-accept last-train', ['--user-accept', 'last-train']],
  ])('a search on 2 processes (paprec launch)%s gives the prompts, history and test table of 1', async (name, extra) => {
    const [oneDir, twoDir] = [path.join(tmp, `one${extra.length}`), path.join(tmp, `two${extra.length}`)];
    const one = await paprec([...search, ...extra, '-o', oneDir], { env: { PAPREC_THREADS: '2' } }).done;
    expect(one.stderr).not.toContain('paprec:');
    expect(one.code).toBe(0);
    const port = await freePort();
    const two = await paprec(['launch', '--nproc', '2', '--master-port', String(port), '--', ...search, ...extra, '-o', twoDir]).done;
    expect(two.stderr).not.toContain('paprec:');
    expect(two.code).toBe(0);
    const want = await loadState(oneDir);
    expect(want.variants.some((v) => v.version > 0)).toBe(true); // something was accepted: the comparison means something
    // Users took tokens, on validation or on their last training row: the per-user acceptance was exercised.
    expect(history(oneDir).decisions.some((d) => typeof d.usersAccepted === 'number' && d.usersAccepted > 0)).toBe(true);
    expectSameSearch(await loadState(twoDir), want);
    expectSameHistory(twoDir, oneDir);
    const results = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as { prompts: Array<{ runs: Array<{ metrics: unknown }> }> }).prompts.map((p) => p.runs.map((r) => r.metrics));
    expect(results(twoDir)).toEqual(results(oneDir));
  }, 240_000);

  it('rank 1 killed mid-search: rank 0 exits within seconds naming it; --resume on 1 process ends at the straight run', async () => {
    const out = path.join(tmp, 'killed');
    const port = await freePort();
    const r1 = paprec([...search, '-o', out], { env: rankEnv(1, 2, port) });
    let killedAt = 0;
    const r0 = paprec([...search, '-o', out], {
      env: rankEnv(0, 2, port),
      onStderr: (text) => {
        if (!killedAt && (text.match(/: (accepted|rejected)/g) ?? []).length >= 2) {
          killedAt = Date.now();
          r1.child.kill('SIGKILL');
        }
      },
    });
    const [a, b] = await Promise.all([r0.done, r1.done]);
    expect(b.signal).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThan(0);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/rank 0 of 2: rank 1 did not answer within 3 s: it died or hung/);
    expect((Date.now() - killedAt) / 1000).toBeLessThan(20);
    const saved = await loadState(out); // the last good round, readable
    expect(saved.historyLength).toBeGreaterThanOrEqual(2);
    const resumed = await paprec(['search', '--resume', out, '--force']).done;
    expect(resumed.stderr).not.toContain('paprec:');
    expect(resumed.code).toBe(0);
    expectSameSearch(await loadState(out), await loadState(path.join(tmp, 'one0')));
    expectSameHistory(out, path.join(tmp, 'one0'));
  }, 240_000);

  it('rank 0 killed: rank 1 exits within seconds, saying the store\'s host is gone', async () => {
    const out = path.join(tmp, 'killed0');
    const port = await freePort();
    let killedAt = 0;
    const r1 = paprec([...search, '-o', out], { env: rankEnv(1, 2, port) });
    const r0 = paprec([...search, '-o', out], {
      env: rankEnv(0, 2, port),
      onStderr: (text, child) => {
        if (!killedAt && (text.match(/: (accepted|rejected)/g) ?? []).length >= 1) {
          killedAt = Date.now();
          child.kill('SIGKILL');
        }
      },
    });
    const [a, b] = await Promise.all([r0.done, r1.done]);
    expect(a.signal).toBe('SIGKILL');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/rank 1 of 2: rank 0, which holds the rendezvous store at 127\.0\.0\.1:\d+, is gone/);
    expect((Date.now() - killedAt) / 1000).toBeLessThan(20);
  }, 120_000);

  it('recommend on 2 processes (torchrun-style variables) writes the lines of 1, in input order', async () => {
    const args = ['recommend', '--model', model, '--tokenizer', tokenizer, '--prompt', '2-3', '--data', data, '--users', '1-9', '--beams', '3', '-k', '3', '--device', 'cpu'];
    const one = await paprec(args).done;
    expect(one.code).toBe(0);
    const port = await freePort();
    const [r0, r1] = await Promise.all([0, 1].map((r) => paprec(args, { env: rankEnv(r, 2, port) }).done));
    expect(r1!.code).toBe(0);
    expect(r1!.stdout).toBe(''); // rank 1 computes, rank 0 prints
    expect(r0!.code).toBe(0);
    const parse = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { user: number; items: string[]; scores: number[] });
    const [want, got] = [parse(one.stdout), parse(r0!.stdout)];
    expect(got.map((r) => [r.user, r.items])).toEqual(want.map((r) => [r.user, r.items]));
    got.forEach((r, i) => r.scores.forEach((x, j) => expect(x).toBeCloseTo(want[i]!.scores[j]!, 4)));
  }, 120_000);

  it('a rendezvous nobody joins times out naming the address', async () => {
    const port = await freePort();
    const r = await paprec([...search, '-o', path.join(tmp, 'lonely')], { env: { ...rankEnv(1, 2, port), PAPREC_DIST_TIMEOUT: '2' } }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rendezvous at 127.0.0.1:${port} (rank 1 of 2) did not complete within 2 s`);
    expect(r.seconds).toBeLessThan(30);
  }, 60_000);

  it('pretraining on 2 processes (data-parallel) matches 1: epoch losses, validation (sharded) and weights', async () => {
    const config = path.join(tmp, 'pre-model', 'config.json');
    const args = ['pretrain', '--data', data, '--tokenizer', tokenizer, '--config', config, '--epochs', '2', '--batch', '16', '--lr', '0.005',
      '--seed', '3', '--val-users', '8', '--val-beams', '2', '--max-users', '12', '--device', 'cpu'];
    const one = await paprec([...args, '-o', path.join(tmp, 'pre-one')], { env: { PAPREC_THREADS: '2' } }).done;
    expect(one.stderr).not.toContain('paprec:');
    const port = await freePort();
    const two = await paprec(['launch', '--nproc', '2', '--master-port', String(port), '--', ...args, '-o', path.join(tmp, 'pre-two')]).done;
    expect(two.stderr).not.toContain('paprec:');
    expect(two.code).toBe(0);
    const epochs = (dir: string) => readFileSync(path.join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; trainLoss?: number; validation?: { loss: number; hr5: number; ndcg5: number } })
      .filter((e) => e.event === 'epoch');
    const [e1, e2] = [epochs(path.join(tmp, 'pre-one')), epochs(path.join(tmp, 'pre-two'))];
    expect(e2.length).toBe(2);
    e2.forEach((e, i) => {
      expect(e.trainLoss!).toBeCloseTo(e1[i]!.trainLoss!, 4);
      // Each rank validates its users' rows; the gathered losses and ranks give the one-process numbers.
      expect(e.validation!.loss).toBeCloseTo(e1[i]!.validation!.loss, 4);
      expect([e.validation!.hr5, e.validation!.ndcg5]).toEqual([e1[i]!.validation!.hr5, e1[i]!.validation!.ndcg5]);
    });
    const [w1, w2] = [await readSafetensors(path.join(tmp, 'pre-one', 'model.safetensors')), await readSafetensors(path.join(tmp, 'pre-two', 'model.safetensors'))];
    let worst = 0;
    for (const [name, t] of w1) {
      const u = w2.get(name)!.data;
      t.data.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - u[i]!))));
    }
    expect(worst).toBeLessThan(1e-4);
  }, 240_000);
});
