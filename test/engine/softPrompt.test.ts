// The soft prompt baseline in the engine: Adam on the task slots' input embeddings lowers the training loss and is
// deterministic under a seed; evaluation with the current tokens' own embeddings as slotEmbeddings equals the plain
// evaluation exactly; the L2 projection of known tokens' embeddings returns those tokens; bad inputs are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset } from '../../src/data/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { ResidentExampleSet, modelSlotMask, projectSoftPrompt, trainSoftPrompt } from '../../src/engine/index.js';
import { automatedPrompt } from '../../src/prompts/automated.js';
import { buildExampleSet } from '../../src/prompts/exampleSet.js';
import type { Tokenizer } from '../../src/types.js';

let tmp: string;
let backbone: Backbone;
let tokenizer: Tokenizer;
let train: ResidentExampleSet;
let val: ResidentExampleSet;
let embedding: Float32Array; // shared.weight [V, D]
const D = 32;
const L = 3;
let init: Int32Array;

/** The input embeddings of `ids`, [ids.length * D]. */
const rowsOf = (ids: ArrayLike<number>) => {
  const out = new Float32Array(ids.length * D);
  Array.from(ids).forEach((t, r) => out.set(embedding.subarray(t * D, (t + 1) * D), r * D));
  return out;
};
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-soft-'));
  const demo = await writeDemoData(tmp, { seed: 3, users: 40, items: 140, minLength: 5, maxLength: 8 });
  tokenizer = await loadTokenizer(demo.tokenizerPath);
  const dataset = await loadDataset(demo.dataDir);
  backbone = await Backbone.create(
    { vocabSize: tokenizer.vocabSize, dModel: D, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, numDecoderLayers: 2, wholeWordSize: 128 },
    { seed: 11, device: 'cpu' },
  );
  embedding = (await backbone.tensors()).get('shared.weight')!.data;
  const words = [...tokenizer.wordStartMask().keys()].filter((t) => tokenizer.wordStartMask()[t] === 1);
  init = Int32Array.from(words.slice(10, 10 + L));
  const prompt = automatedPrompt(tokenizer, { task: 'sequential', taskTokens: init });
  const common = { task: 'sequential' as const, prompt, seed: 5, maxUsers: 30 };
  train = ResidentExampleSet.upload(backbone, buildExampleSet(dataset, tokenizer, { ...common, split: 'train' }), { batchSize: 16 });
  val = ResidentExampleSet.upload(backbone, buildExampleSet(dataset, tokenizer, { ...common, split: 'val' }), { batchSize: 8 });
}, 60_000);

afterAll(async () => {
  train?.dispose();
  val?.dispose();
  await backbone?.dispose();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

describe('soft prompt training', () => {
  const opts = { lr: 0.05, batchSize: 16, seed: 7, init: { taskTokens: new Int32Array(0) } };
  it('lowers the training loss, step after step, and repeats exactly under a seed', async () => {
    const o = { ...opts, init: { taskTokens: init } };
    const short = await trainSoftPrompt(train, { ...o, steps: 10 });
    const long = await trainSoftPrompt(train, { ...o, steps: 40 });
    expect(long.embeddings).toHaveLength(L * D);
    expect(long.losses).toHaveLength(40);
    // the same seed takes the same steps: the 10-step run is the 40-step run's beginning
    expect(Array.from(long.losses.subarray(0, 10))).toEqual(Array.from(short.losses));
    const again = await trainSoftPrompt(train, { ...o, steps: 40 });
    expect(again.embeddings).toEqual(long.embeddings);
    const other = await trainSoftPrompt(train, { ...o, steps: 40, seed: 8 });
    expect(other.losses).not.toEqual(long.losses);
    // the mini-batch losses fall: every window of 10 steps below the one before
    const windows = [0, 10, 20, 30].map((s) => mean(long.losses.subarray(s, s + 10)));
    for (let i = 1; i < windows.length; i++) expect(windows[i]!).toBeLessThan(windows[i - 1]!);
    // and on the whole training set: start > 10 steps > 40 steps
    const [start, at10, at40] = await train.loss([
      { taskTokens: init },
      { taskTokens: init, slotEmbeddings: short.embeddings },
      { taskTokens: init, slotEmbeddings: long.embeddings },
    ]);
    expect(mean(at10!)).toBeLessThan(mean(start!));
    expect(mean(at40!)).toBeLessThan(mean(at10!) - 0.01);
    // P started at the init tokens' embeddings: training from those rows given explicitly is the same run
    const explicit = await trainSoftPrompt(train, { ...o, steps: 10, init: { taskTokens: init, slotEmbeddings: rowsOf(init) } });
    expect(explicit.embeddings).toEqual(short.embeddings);
  }, 120_000);

  it('refuses bad options and inputs by name', async () => {
    const o = { ...opts, init: { taskTokens: init } };
    await expect(trainSoftPrompt(train, { ...o, steps: 0 })).rejects.toThrow(/steps must be a positive integer/);
    await expect(trainSoftPrompt(train, { ...o, steps: 2, lr: Number.NaN })).rejects.toThrow(/lr must be a positive number/);
    await expect(trainSoftPrompt(train, { ...o, steps: 2, init: { taskTokens: init, slotEmbeddings: new Float32Array(5) } })).rejects.toThrow(
      /slotEmbeddings: 5 values, expected numTaskSlots x dModel = 3 x 32/,
    );
  });
});

describe('evaluation with slot embeddings', () => {
  it("the current tokens' own embeddings give exactly the plain outcomes and losses (fp32)", async () => {
    const plain = { taskTokens: init };
    const soft = { taskTokens: init, slotEmbeddings: rowsOf(init) };
    const d = { numBeams: 4, numReturnSequences: 4, maxLength: 6 };
    const [a, b] = await val.evaluate([plain, soft], d);
    expect(b).toEqual(a);
    const [ia, ib] = await val.evaluate([plain, soft], { ...d, outcome: 'ids' });
    expect(ib).toEqual(ia);
    expect(ia!.some((t) => t > 1)).toBe(true);
    const [la, lb] = await val.loss([plain, soft]);
    expect(lb).toEqual(la);
    // other embeddings change the losses: the slots really are replaced
    const shifted = rowsOf(init).map((v) => v + 0.5);
    const [lc] = await val.loss([{ taskTokens: init, slotEmbeddings: shifted }]);
    expect(lc).not.toEqual(la);
  }, 60_000);

  it('refuses a wrong length and a NaN, naming slotEmbeddings', async () => {
    const nan = rowsOf(init);
    nan[D + 4] = Number.NaN;
    await expect(val.evaluate([{ taskTokens: init, slotEmbeddings: new Float32Array(D) }])).rejects.toThrow(
      /slotEmbeddings: 32 values, expected numTaskSlots x dModel = 3 x 32 = 96/,
    );
    await expect(val.loss([{ taskTokens: init, slotEmbeddings: nan }])).rejects.toThrow(/slotEmbeddings\[36\] \(slot 1\) is NaN/);
    const inf = rowsOf(init);
    inf[0] = Number.POSITIVE_INFINITY;
    await expect(val.evaluate([{ taskTokens: init, slotEmbeddings: inf }])).rejects.toThrow(/slotEmbeddings\[0\] \(slot 0\) is infinite/);
  });
});

describe('projection', () => {
  it("returns the tokens whose embeddings are given (L2), only word starts, ties to the lower id", async () => {
    const mask = modelSlotMask(tokenizer.wordStartMask(), backbone.config.vocabSize);
    const words = [...mask.keys()].filter((t) => mask[t] === 1);
    const known = Int32Array.from([words[3]!, words[words.length - 1]!, words[17]!, words[3]!]);
    expect(await projectSoftPrompt(backbone, rowsOf(known), mask)).toEqual(known);
    // a point near a known token, slightly perturbed, still projects to it
    const near = rowsOf(known).map((v, i) => v + (i % 2 ? 1e-3 : -1e-3));
    expect(await projectSoftPrompt(backbone, near, mask)).toEqual(known);
    // a token the mask leaves out is never returned: its own embedding goes to the nearest allowed token
    const banned = [...mask.keys()].find((t) => mask[t] === 0 && t > 3)!;
    const [p] = await projectSoftPrompt(backbone, rowsOf([banned]), mask);
    expect(mask[p!]).toBe(1);
    let best = Infinity;
    let bestId = -1;
    for (const t of words) {
      let s = 0;
      for (let c = 0; c < D; c++) s += (embedding[t * D + c]! - embedding[banned * D + c]!) ** 2;
      if (s < best) [best, bestId] = [s, t];
    }
    expect(p).toBe(bestId);
    await expect(projectSoftPrompt(backbone, new Float32Array(D + 1), mask)).rejects.toThrow(/not whole rows of dModel = 32/);
    const nan = rowsOf(known);
    nan[2] = Number.NaN;
    await expect(projectSoftPrompt(backbone, nan, mask)).rejects.toThrow(/NaN or infinite/);
  });
});
