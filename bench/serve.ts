/**
 * Load test of `paprec serve` on loopback against the demo backbone (issue 16): 2,000 requests at concurrency 1, 8
 * and 32 (each request one user, `{"user": u}`, P5's protocol: 20 beams, top 10, unconstrained), and 2,000 at
 * concurrency 32 against a server that does not batch (`--max-batch 1`): throughput, p50 / p99 latency, errors,
 * and the gain of batching (batched / unbatched requests per second at concurrency 32). Both servers run side by
 * side and the concurrency-32 runs alternate in 8 chunks of 250, so a machine shared with other work loads both
 * alike; the table gives the 1-minute load average, and the gain's range over the chunks.
 *
 * The server is the real CLI in its own process (`paprec serve --port 0`); the load comes from this one over
 * keep-alive connections. Bounded: PAPREC_SERVE_REQUESTS per setting (default 2,000) and PAPREC_SERVE_SECONDS per
 * setting (default 120; a setting that runs out reports what it finished). The demo folder is PAPREC_SERVE_DEMO
 * (default ./paprec-demo; make it with `paprec demo --quick -o DIR`), its sequential search prompt, CPU unless
 * PAPREC_BENCH_DEVICE says otherwise. Run alone: `npm run bench -- serve`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `paprec serve` from the sources (tsx), listening on a free loopback port. */
export function startServer(demo: string, extra: string[]): Promise<Server> {
  const args = [
    'serve', '--model', path.join(demo, 'backbone'), '--tokenizer', path.join(demo, 'tokenizer.json'),
    '--prompt', path.join(demo, 'sequential', 'prompt.json'), '--data', path.join(demo, 'data'),
    '--host', '127.0.0.1', '--port', '0', '--device', process.env.PAPREC_BENCH_DEVICE ?? 'cpu', '--max-queue', '1024', ...extra,
  ];
  const script = `import(${JSON.stringify(path.join(root, 'src/cli/main.ts'))}).then((m) => m.main(${JSON.stringify(args)}))`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (m) {
        resolve({
          url: m[1]!,
          child,
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`paprec serve exited ${code}: ${stderr}`)));
  });
}

function post(agent: http.Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/recommend`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  timedOut: boolean;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** `total` requests from `concurrency` clients, stopping early at `seconds`. */
export async function load(url: string, opts: { total: number; concurrency: number; seconds: number; users: number }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.seconds * 1000;
  const worker = async () => {
    while (next < opts.total && performance.now() < deadline) {
      const i = next++;
      const body = JSON.stringify({ user: (i % opts.users) + 1 });
      const s = performance.now();
      try {
        if ((await post(agent, url, body)) !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    timedOut: latencies.length < opts.total,
  };
}

function row(server: string, c: number, r: LoadResult, loadAvg: number, seconds: number): string {
  return `| ${server} | ${c} | ${r.requests}${r.timedOut ? ` (${seconds} s limit)` : ''} | ${r.errors} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${loadAvg.toFixed(1)} |`;
}

/** Chunks of several runs as one result (latencies are not kept across chunks: p50 / p99 are the chunks' medians). */
function merge(parts: LoadResult[]): LoadResult {
  const requests = parts.reduce((a, p) => a + p.requests, 0);
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    requests,
    errors: parts.reduce((a, p) => a + p.errors, 0),
    seconds,
    rps: requests / seconds,
    p50: median(parts.map((p) => p.p50)),
    p99: median(parts.map((p) => p.p99)),
    timedOut: parts.some((p) => p.timedOut),
  };
}

export async function benchServe(): Promise<Record<string, number | string>> {
  const demo = path.resolve(process.env.PAPREC_SERVE_DEMO ?? 'paprec-demo');
  if (!existsSync(path.join(demo, 'sequential', 'prompt.json'))) {
    throw new Error(`${demo}: no demo outputs (sequential/prompt.json); run \`node bin/paprec.js demo --quick -o ${demo}\` first, or set PAPREC_SERVE_DEMO`);
  }
  const total = Number(process.env.PAPREC_SERVE_REQUESTS ?? 2000);
  const seconds = Number(process.env.PAPREC_SERVE_SECONDS ?? 120);
  const users = 400; // the demo world's users
  const out: Record<string, number | string> = { demo, requests_per_setting: total, seconds_limit_per_setting: seconds };
  const rows: string[] = ['| server | concurrency | requests | errors | req/s | p50 ms | p99 ms | load avg |', '|---|---|---|---|---|---|---|---|'];
  const record = (key: string, r: LoadResult, loadAvg: number) => {
    out[`${key}_requests`] = r.requests;
    out[`${key}_errors`] = r.errors;
    out[`${key}_rps`] = r.rps;
    out[`${key}_p50_ms`] = r.p50;
    out[`${key}_p99_ms`] = r.p99;
    out[`${key}_loadavg`] = loadAvg; // the machine's 1-minute load: other work shares these cores
  };
  const batched = await startServer(demo, ['--max-batch', '32', '--max-wait-ms', '5']);
  const single = await startServer(demo, ['--max-batch', '1']);
  try {
    for (const s of [batched, single]) await load(s.url, { total: 20, concurrency: 4, seconds: 30, users }); // warm-up
    for (const c of [1, 8]) {
      const r = await load(batched.url, { total, concurrency: c, seconds, users });
      record(`batched_c${c}`, r, os.loadavg()[0]!);
      rows.push(row('batched (up to 32, 5 ms)', c, r, os.loadavg()[0]!, seconds));
    }
    // Concurrency 32, batched against one at a time: chunks taken in turn, so that both see the same machine load.
    const chunks = 8;
    const parts: Record<'b' | 's', LoadResult[]> = { b: [], s: [] };
    for (let i = 0; i < chunks; i++) {
      for (const [k, srv] of [['b', batched], ['s', single]] as const) {
        parts[k].push(await load(srv.url, { total: Math.ceil(total / chunks), concurrency: 32, seconds: seconds / chunks, users }));
      }
    }
    const la = os.loadavg()[0]!;
    const b = merge(parts.b);
    const s = merge(parts.s);
    record('batched_c32', b, la);
    record('unbatched_c32', s, la);
    rows.push(row('batched (up to 32, 5 ms)', 32, b, la, seconds));
    rows.push(row('one at a time (--max-batch 1)', 32, s, la, seconds));
    out.batching_gain_c32_x = b.rps / s.rps;
    const gains = parts.b.map((p, i) => p.rps / parts.s[i]!.rps).sort((x, y) => x - y);
    out.batching_gain_c32_chunk_min_x = gains[0]!;
    out.batching_gain_c32_chunk_max_x = gains.at(-1)!;
  } finally {
    await batched.stop();
    await single.stop();
  }
  const g = (k: string) => (out[k] as number).toFixed(2);
  out.table = `${rows.join('\n')}\n\nbatching gain at concurrency 32: ${g('batching_gain_c32_x')}x (per chunk ${g('batching_gain_c32_chunk_min_x')}x to ${g('batching_gain_c32_chunk_max_x')}x)`;
  console.log(out.table);
  return out;
}
