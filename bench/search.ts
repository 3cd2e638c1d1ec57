/**
 * Speed of one PAP-REC token replacement (issue 6 item 6, the paper's Table 3 measured): p5-small shape with random
 * weights (speed does not depend on the weights), Beauty's first N users, T5's tokenizer. One replacement = the
 * training-set slot gradient + top-k + the k candidates scored on validation.
 *
 * - paprec: k candidates in ONE batched evaluate on the resident set (ranks computed in the engine).
 * - reference-style (the research code's shape): candidates one after another, each re-padded on the host and
 *   generated in batches of 32, every beam output decoded and compared as a string; the gradient from
 *   teacher-forced input gradients over host batches.
 * - each selection criterion on the paprec path: loss, full metric (beam 20 returning 10), surrogate (beam 5).
 *
 * N defaults to 100 on CPU (p5-small beam search over 2,000 users takes far longer than 2 minutes on 2 cores) and
 * 2,000 on CUDA; set PAPREC_BENCH_SEARCH_USERS to change it. Run alone: `npx tsx bench/search.ts`.
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadDataset } from '../src/data/dataset.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { automatedPrompt, buildExampleSet } from '../src/prompts/index.js';
import { Backbone } from '../src/backbone/index.js';
import { native } from '../src/native.js';
import { EngineBackend, resolveSearchOptions } from '../src/search/index.js';
import { ResidentExampleSet, modelSlotMask } from '../src/engine/index.js';
import { makeScorer, selectionDecoding } from '../src/protocol/index.js';
import type { ExampleSet } from '../src/types.js';

const shared = (p: string): string => fileURLToPath(new URL(`../../shared/${p}`, import.meta.url));

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, (performance.now() - t0) / 1000];
}

/** Rows of `set` with task slot `slot` set to `id` (host-side re-rendering, as the research code does). */
function rowsWith(set: ExampleSet, taskTokens: Int32Array, from: number, to: number): { input: number[][]; ww: number[][] } {
  const per = set.numTaskSlots + (set.hasUserSlot ? 1 : 0);
  const input: number[][] = [];
  const ww: number[][] = [];
  for (let i = from; i < to; i++) {
    const row = Array.from(set.inputIds.subarray(set.inputOffsets[i]!, set.inputOffsets[i + 1]!));
    for (let s = 0; s < set.numTaskSlots; s++) row[set.slotPositions[i * per + s]!] = taskTokens[s]!;
    input.push(row);
    ww.push(Array.from(set.wholeWordIds.subarray(set.inputOffsets[i]!, set.inputOffsets[i + 1]!)));
  }
  return { input, ww };
}

export async function benchSearch(opts: { users?: number; k?: number; device?: string } = {}): Promise<Record<string, number | string>> {
  const device = opts.device ?? process.env.PAPREC_BENCH_DEVICE ?? (native().info().cudaAvailable ? 'cuda' : 'cpu');
  const users = opts.users ?? Number(process.env.PAPREC_BENCH_SEARCH_USERS ?? (device.startsWith('cuda') ? 2000 : 100));
  const k = opts.k ?? 5;
  const tokenizer = await loadTokenizer(shared('data/t5/spiece.model'));
  const dataset = await loadDataset(shared('data/beauty'), { maxUsers: users });
  const backbone = await Backbone.create('p5-small', { seed: 1, device });
  const prompt = automatedPrompt(tokenizer, { task: 'sequential', length: 5 });
  const val = buildExampleSet(dataset, tokenizer, { task: 'sequential', split: 'val', prompt, maxUsers: users });
  const train = buildExampleSet(dataset, tokenizer, { task: 'sequential', split: 'train', prompt, maxUsers: users });
  const upload = { slotMask: modelSlotMask(tokenizer.wordStartMask(), backbone.config.vocabSize), defaultToken: prompt.defaultUserToken, vocabLimit: tokenizer.vocabSize };
  const rVal = ResidentExampleSet.upload(backbone, val, upload);
  const rTrain = ResidentExampleSet.upload(backbone, train, upload);
  const current = { taskTokens: Int32Array.from(prompt.taskTokens) };
  const out: Record<string, number | string> = { device, 'validation users': val.size, 'training rows': train.size, k };

  // paprec, under each criterion
  const base = resolveSearchOptions({ task: 'sequential', k });
  let candidates = new Int32Array(0);
  for (const criterion of ['surrogate', 'loss', 'full'] as const) {
    const backend = new EngineBackend({ val: rVal, train: rTrain, valSet: val, decoding: selectionDecoding('sequential', criterion, base), tokenizer });
    const scorer = makeScorer('sequential', criterion, base);
    const [cands, gradS] = await timed(() => backend.taskCandidates(current, k, 0));
    candidates = Int32Array.from(cands.subarray(0, k));
    const assignments = Array.from(candidates, (id) => ({ taskTokens: Int32Array.from(current.taskTokens).fill(id, 0, 1) }));
    const [outs, evalS] = await timed(() => backend.evaluate(assignments));
    outs.forEach((o) => scorer.score(o));
    out[`paprec ${criterion}: gradient s`] = gradS;
    out[`paprec ${criterion}: ${k} candidates s`] = evalS;
    out[`paprec ${criterion}: replacement s`] = gradS + evalS;
  }

  // reference-style: host batches, one candidate at a time, string comparison of every beam output
  const B = 32;
  const [, refGradS] = await timed(async () => {
    for (let i = 0; i < train.size; i += B) {
      const to = Math.min(train.size, i + B);
      const { input, ww } = rowsWith(train, current.taskTokens, i, to);
      const labels = [];
      for (let j = i; j < to; j++) labels.push(Array.from(train.targetIds.subarray(train.targetOffsets[j]!, train.targetOffsets[j + 1]!)));
      await backbone.inputGradients({ inputIds: input, wholeWordIds: ww, labels });
    }
  });
  const targets = Array.from({ length: val.size }, (_, j) => tokenizer.decode(val.targetIds.subarray(val.targetOffsets[j]!, val.targetOffsets[j + 1]!)));
  let agree = 0;
  const [, refEvalS] = await timed(async () => {
    for (const id of candidates) {
      const tokens = Int32Array.from(current.taskTokens).fill(id, 0, 1);
      let hits = 0;
      for (let i = 0; i < val.size; i += B) {
        const to = Math.min(val.size, i + B);
        const { input, ww } = rowsWith(val, tokens, i, to);
        const g = await backbone.generate({ inputIds: input, wholeWordIds: ww }, { numBeams: 5, numReturnSequences: 5, maxLength: selectionDecoding('sequential', 'surrogate')!.maxLength, earlyStopping: true });
        const [rows, len] = g.shape;
        for (let r = 0; r < rows; r++) {
          const text = tokenizer.decode(g.sequences.subarray(r * len, (r + 1) * len)).trim();
          if (text === targets[i + Math.floor(r / 5)]) hits++;
        }
      }
      agree += hits;
    }
  });
  out['reference-style: gradient s'] = refGradS;
  out[`reference-style: ${k} candidates s`] = refEvalS;
  out['reference-style: replacement s'] = refGradS + refEvalS;
  out['reference-style: target hits (sanity)'] = agree;
  out['speed-up (reference / paprec surrogate)'] = (refGradS + refEvalS) / (out['paprec surrogate: replacement s'] as number);
  out['Table 3 ratio full / surrogate'] = (out['paprec full: replacement s'] as number) / (out['paprec surrogate: replacement s'] as number);
  out['Table 3 ratio loss / surrogate'] = (out['paprec loss: replacement s'] as number) / (out['paprec surrogate: replacement s'] as number);
  rVal.dispose();
  rTrain.dispose();
  backbone.dispose();
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, v] of Object.entries(await benchSearch())) console.log(`${name}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}`);
}
