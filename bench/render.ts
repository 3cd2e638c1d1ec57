/**
 * Speed of rendering (issue 3 item 7): load Beauty and T5's spiece.model, then render the 22,363 validation
 * examples of sequential recommendation with P5 prompt 2-3 and with a personalized automated prompt.
 * Run alone: `npx tsx bench/render.ts`.
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadDataset } from '../src/data/dataset.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { automatedPrompt, buildExampleSet, manualPrompt } from '../src/prompts/index.js';

const shared = (p: string): string => fileURLToPath(new URL(`../../shared/${p}`, import.meta.url));

async function timed<T>(f: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await f();
  return [value, performance.now() - t0];
}

export async function benchRender(): Promise<Record<string, number>> {
  const [tokenizer, tokenizerMs] = await timed(() => loadTokenizer(shared('data/t5/spiece.model')));
  const [dataset, datasetMs] = await timed(() => loadDataset(shared('data/beauty')));
  const [manual, manualMs] = await timed(() =>
    buildExampleSet(dataset, tokenizer, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3') }),
  );
  const prompt = automatedPrompt(tokenizer, { task: 'sequential', personalized: true, numUsers: dataset.users.length });
  const [auto, autoMs] = await timed(() => buildExampleSet(dataset, tokenizer, { task: 'sequential', split: 'val', prompt }));
  return {
    'tokenizer load (spiece.model) ms': tokenizerMs,
    'beauty load ms': datasetMs,
    'render val 2-3 ms': manualMs,
    'render val automated (l=5, personalized) ms': autoMs,
    'val examples': manual.size,
    'val input tokens 2-3': manual.inputIds.length,
    'val input tokens automated': auto.inputIds.length,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [k, v] of Object.entries(await benchRender())) console.log(`${k}: ${Number.isInteger(v) ? v : v.toFixed(1)}`);
}
