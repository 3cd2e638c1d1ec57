// Time per token replacement on one process against N Gloo processes on this machine (README "Running on several
// GPUs / nodes"). The same search (synthetic data, a small P5 from a seed, the surrogate criterion, all training rows
// per gradient) runs once as one process with every core and once under `paprec launch --nproc N` with the cores
// split; a replacement round's time is its history.jsonl `time` (gradient + k candidates scored), the median of the
// task rounds. The two sides alternate for --pairs pairs and the ratio is the median of the pairs' ratios (this
// machine's speed drifts between minutes). Both sides must find the same prompts (checked). Usage, on an idle
// machine (after `npm run build`):
//   node scripts/dist-scaling.mjs [--nproc 2] [--users 400] [--epochs 6] [--d-model 64] [--pairs 3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDemoData } from '../dist/demo/index.js';
import { loadTokenizer } from '../dist/tokenizer/index.js';
import { Backbone } from '../dist/backbone/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const nproc = arg('nproc', 2), users = arg('users', 400), epochs = arg('epochs', 6), dModel = arg('d-model', 64), pairs = arg('pairs', 3);
const cores = os.availableParallelism();
const load = os.loadavg()[0];
if (load > 0.5) console.log(`note: load average ${load.toFixed(2)}: the machine is not idle, the numbers below are not a measurement`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'paprec-dist-scaling-'));
try {
  const demo = await writeDemoData(tmp, { seed: 4, users, items: 3 * users, minLength: 5, maxLength: 10 });
  const tok = await loadTokenizer(demo.tokenizerPath);
  const b = await Backbone.create({ vocabSize: tok.vocabSize, dModel, dKv: dModel / 4, dFf: 4 * dModel, numHeads: 4, numLayers: 2, numDecoderLayers: 2, wholeWordSize: 128 }, { seed: 2 });
  await b.save(path.join(tmp, 'model'));
  await b.dispose();
  const search = ['search', '--data', demo.dataDir, '--model', path.join(tmp, 'model'), '--tokenizer', demo.tokenizerPath, '--task', 'sequential',
    '--length', '5', '--k', '5', '--epochs', String(epochs), '--runs', '1', '--test-beams', '2', '--max-length', '10', '--seed', '9', '--device', 'cpu'];
  const bin = path.join(root, 'bin', 'paprec.js');
  const run = (name, argv, env) => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [bin, ...argv, '-o', path.join(tmp, name)], { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status}\n${r.stderr}`);
    const rounds = readFileSync(path.join(tmp, name, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((h) => h.kind === 'task');
    const times = rounds.map((h) => h.time).sort((x, y) => x - y);
    return { wall: (Date.now() - started) / 1000, rounds: rounds.length, median: times[Math.floor(times.length / 2)], prompts: readFileSync(path.join(tmp, name, 'state.json'), 'utf8') };
  };
  const threads = Math.max(1, Math.floor(cores / nproc));
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const results = [];
  for (let p = 0; p < pairs; p++) {
    const one = run(`one-${p}`, search, { PAPREC_THREADS: String(cores) });
    const many = run(`many-${p}`, ['launch', '--nproc', String(nproc), '--', ...search], { PAPREC_THREADS: String(threads) });
    const same = JSON.stringify(JSON.parse(one.prompts).variants.map((v) => v.best)) === JSON.stringify(JSON.parse(many.prompts).variants.map((v) => v.best));
    results.push({ one, many, same });
    console.log(`pair ${p + 1}: 1 process ${one.median.toFixed(3)} s, ${nproc} processes ${many.median.toFixed(3)} s per replacement (${one.rounds} / ${many.rounds} rounds); same prompts: ${same}`);
  }
  console.log(`${users} users, d_model ${dModel}, ${cores} cores, load average ${load.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`);
  console.log(`1 process x ${cores} threads: ${median(results.map((r) => r.one.median)).toFixed(3)} s per replacement (median over ${pairs} runs)`);
  console.log(`${nproc} processes x ${threads} thread(s): ${median(results.map((r) => r.many.median)).toFixed(3)} s per replacement (median over ${pairs} runs)`);
  console.log(`speed-up per replacement (median of the pairs' ratios): ${median(results.map((r) => r.one.median / r.many.median)).toFixed(2)}x; same prompts in every pair: ${results.every((r) => r.same)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
