// bf16 on the CPU (LibTorch 2.x on a CPU with AMX / AVX512-BF16): the same model as fp32 within bf16's precision,
// for the loss, the input gradients, beam search and training. Where the build or the CPU cannot run bf16 natively,
// the refusal is the tested behaviour (badInput.test.ts) and this file says why it skips.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { native } from '../../src/native.js';
import { BackboneTrainer, type TrainData } from '../../src/train/index.js';
import { loadFixture, maxAbs, maxAbsDiff } from '../helpers/golden.js';

const info = native().info();
const native16 = info.cpuAutoDtype === 'bf16';
if (!native16) console.log(`bf16.test: skipped: LibTorch ${info.torchVersion} / CPU bf16 unit '${info.cpuBf16}' cannot run bf16 natively`);

describe.runIf(native16)('bf16 on the CPU against fp32', () => {
  const fx = loadFixture('p5-tiny');
  const batch = {
    inputIds: fx.rows('input_ids'),
    attentionMask: fx.rows('attention_mask'),
    wholeWordIds: fx.rows('whole_word_ids'),
    labels: fx.rows('labels'),
  };
  const file = path.join(fx.dir, 'model.safetensors');
  const made: Backbone[] = [];
  const load = async (dtype: 'fp32' | 'bf16') => {
    const b = await Backbone.load(file, { dtype });
    made.push(b);
    return b;
  };
  afterAll(() => made.forEach((b) => b.dispose()));

  it('keeps the loss and the input gradients within bf16 precision of fp32', async () => {
    const [f32, b16] = [await load('fp32'), await load('bf16')];
    expect(b16.dtype).toBe('bf16');
    const [a, b] = [await f32.inputGradients(batch), await b16.inputGradients(batch)];
    // Every per-example loss within 2% (bf16 keeps 8 bits of mantissa; norms, softmax and the loss run in fp32).
    a.lossPerExample.forEach((v, i) => expect(Math.abs(b.lossPerExample[i]! - v) / v).toBeLessThan(0.02));
    expect(maxAbsDiff(a.gradients, b.gradients)).toBeLessThan(0.1 * maxAbs(a.gradients));
    expect(b.loss).not.toBe(a.loss); // the products did run in bf16
  });

  it('beam search returns fp32-like hypotheses: most rows equal, scores close', async () => {
    const [f32, b16] = [await load('fp32'), await load('bf16')];
    const rows = fx.rows('gen.input_ids');
    const mask = fx.rows('gen.attention_mask');
    const opts = { numBeams: 5, numReturnSequences: 5, maxLength: 8 };
    const [a, b] = [await f32.generate({ inputIds: rows, attentionMask: mask }, opts), await b16.generate({ inputIds: rows, attentionMask: mask }, opts)];
    expect(b.shape[0]).toBe(a.shape[0]);
    const scoreGap = maxAbsDiff(a.scores!, b.scores!);
    expect(scoreGap).toBeLessThan(0.1);
    // the best hypothesis of each row agrees unless fp32's top two are within bf16's noise
    const width = a.shape[1];
    const best = (g: typeof a, r: number) => Array.from(g.sequences.slice(r * 5 * width, r * 5 * width + width)).join(',');
    let same = 0;
    for (let r = 0; r < rows.length; r++) if (best(a, r) === best(b, r)) same++;
    expect(same).toBeGreaterThanOrEqual(rows.length - 1);
  });

  it('trains with bf16 autocast over fp32 weights: the loss falls as in fp32', async () => {
    // the fixture's rows, unpadded, as one tiny training set
    const lengths = batch.attentionMask.map((m) => m.reduce((s, x) => s + x, 0));
    const targets = batch.labels.map((r) => r.filter((x) => x !== -100));
    const offsets = (ls: number[]) => Int32Array.from(ls.reduce((o, n) => [...o, o[o.length - 1]! + n], [0]));
    const data: TrainData = {
      inputIds: Int32Array.from(batch.inputIds.flatMap((r, i) => r.slice(0, lengths[i]))),
      inputOffsets: offsets(lengths),
      wholeWordIds: Int32Array.from(batch.wholeWordIds.flatMap((r, i) => r.slice(0, lengths[i]))),
      targetIds: Int32Array.from(targets.flat()),
      targetOffsets: offsets(targets.map((t) => t.length)),
    };
    const losses: Record<string, number[]> = {};
    for (const bf16 of [false, true]) {
      const b = await load('fp32'); // training keeps fp32 weights either way
      const trainer = new BackboneTrainer(b, { lr: 1e-2, seed: 1, bf16 });
      const curve: number[] = [];
      for (let epoch = 0; epoch < 8; epoch++) curve.push((await trainer.runEpoch(trainer.upload(data), { epoch, batchSize: 4 })).meanLoss);
      losses[String(bf16)] = curve;
    }
    const [f32, b16] = [losses.false!, losses.true!];
    expect(b16[b16.length - 1]!).toBeLessThan(b16[0]! - 0.5);
    expect(Math.abs(b16[0]! - f32[0]!) / f32[0]!).toBeLessThan(0.02);
    expect(b16[0]).not.toBe(f32[0]); // the products did run in bf16
  });
});
