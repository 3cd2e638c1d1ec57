/**
 * `npm run bench -- <suite...>`: runs speed suites, prints their numbers and writes bench/results/<suite>.json
 * with the machine, the LibTorch build and the time. Suites: forward, generate, train, search, data, tokenizer,
 * render (default: all of these), vs-hf (by name only: it needs the Python environment of scripts/hf-reference.sh),
 * serve (by name only: a load test of `paprec serve` on the demo's outputs, see bench/serve.ts).
 * Speed targets are checked here, never in the timed test suite. A suite that returns a `table` prints that instead
 * of its key: value lines.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

type Suite = () => Promise<Record<string, number | string>>;

const SUITES: Record<string, () => Promise<Suite>> = {
  forward: async () => (await import('./forward.js')).benchForward,
  generate: async () => (await import('./generate.js')).benchGenerate,
  train: async () => (await import('./train.js')).benchTrain,
  search: async () => (await import('./search.js')).benchSearch,
  data: async () => (await import('./data.js')).benchData,
  tokenizer: async () => (await import('./tokenizer.js')).benchTokenizer,
  render: async () => (await import('./render.js')).benchRender,
  serve: async () => (await import('./serve.js')).benchServe,
  'vs-hf': async () => (await import('./vsHf.js')).benchVsHf,
};
const BY_NAME_ONLY = new Set(['vs-hf', 'serve']);

async function machine(): Promise<Record<string, unknown>> {
  let engine: Record<string, unknown> = {};
  try {
    const { native } = await import('../src/native.js');
    engine = { ...native().info() };
  } catch (err) {
    engine = { native: `not loaded: ${(err as Error).message}` };
  }
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, ...engine };
}

function format(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = requested.length > 0 ? requested : Object.keys(SUITES).filter((n) => !BY_NAME_ONLY.has(n));
const unknown = names.filter((n) => !SUITES[n]);
if (unknown.length > 0) {
  console.error(`bench: unknown suite ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}`);
  process.exit(1);
}
const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(outDir, { recursive: true });
const info = await machine();
console.log(`machine: ${JSON.stringify(info)}`);
for (const name of names) {
  const suite = await SUITES[name]!();
  console.log(`\n== ${name}`);
  const t0 = Date.now();
  let results: Record<string, number | string>;
  try {
    results = await suite();
  } catch (err) {
    console.error(`bench ${name}: ${(err as Error).message}`);
    process.exit(1);
  }
  if (typeof results.table !== 'string') for (const [k, v] of Object.entries(results)) console.log(`  ${k}: ${format(v)}`);
  // Another model or dtype (PAPREC_BENCH_MODEL / PAPREC_BENCH_DTYPE, see shapes.ts) gets its own results file.
  const variant = [process.env.PAPREC_BENCH_MODEL, process.env.PAPREC_BENCH_DTYPE].filter((v) => v).join('-');
  const file = path.join(outDir, variant ? `${name}-${variant}.json` : `${name}.json`);
  writeFileSync(file, JSON.stringify({ suite: name, date: new Date().toISOString(), seconds: (Date.now() - t0) / 1000, machine: info, results }, null, 2) + '\n');
  console.log(`  -> ${path.relative(process.cwd(), file)}`);
}
