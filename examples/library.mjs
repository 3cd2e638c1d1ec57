// paprec as a library: load the demo's backbone, evaluate a manual prompt, run a search, read its report.
// Run after the quick start (`node bin/paprec.js demo`): node examples/library.mjs [demo folder]
import { readFile, rm } from 'node:fs/promises';
import {
  Backbone, ResidentExampleSet, buildExampleSet, loadDataset, loadTokenizer, manualPrompt, rankingMetrics, runSearch,
  testDecoding,
} from 'paprec';

const demo = process.argv[2] ?? 'paprec-demo';
const tokenizer = await loadTokenizer(`${demo}/tokenizer.json`);
const dataset = await loadDataset(`${demo}/data`);
const backbone = await Backbone.load(`${demo}/backbone`, { device: 'auto' });

// P5's seen prompt 2-3 on the test split under the test protocol (beam 20, top 10, max length 50): the rows are
// uploaded once; the engine returns target ranks.
const set = buildExampleSet(dataset, tokenizer, { task: 'sequential', split: 'test', prompt: manualPrompt('2-3') });
const resident = ResidentExampleSet.upload(backbone, set);
const [ranks] = await resident.evaluate([{ taskTokens: new Int32Array(0) }], testDecoding('sequential'));
console.log('prompt 2-3:', rankingMetrics(ranks, [5, 10]));
resident.dispose();
await backbone.dispose();

// A non-personalized PAP-REC search (l = 5), then its report.
const out = `${demo}/library-search`;
await rm(out, { recursive: true, force: true });
await runSearch({
  data: `${demo}/data`, model: `${demo}/backbone`, tokenizer: `${demo}/tokenizer.json`,
  task: 'sequential', length: 5, epochs: 2, runs: 2, out,
});
console.log(await readFile(`${out}/report.md`, 'utf8'));
