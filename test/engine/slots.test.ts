// Slot gradients against the fixtures' input-embedding gradients, shard invariance, and HotFlip candidates.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { ResidentExampleSet, topCandidates } from '../../src/engine/index.js';
import { FIXTURES, loadFixture, maxAbs, maxAbsDiff } from '../helpers/golden.js';
import { exampleSet, unpad } from './exampleSetHelpers.js';

const open: Array<{ dispose(): void }> = [];
afterAll(() => open.reverse().forEach((o) => o.dispose()));

describe.each(FIXTURES)('fixture %s', (name) => {
  void name;
  const fx = loadFixture(name);
  const mask = fx.rows('attention_mask');
  const inputs = unpad(fx.rows('input_ids'), mask);
  const targets = fx.rows('labels').map((r) => r.filter((v) => v !== -100));
  const wholeWords = fx.tensors.has('whole_word_ids') ? unpad(fx.rows('whole_word_ids'), mask) : undefined;
  const B = inputs.length;
  const D = fx.json.model?.d_model ?? fx.f('token_embeds').shape[2]!;
  const L = mask[0]!.length;
  const golden = fx.f('grad_token_embeds_of_p5_loss').data; // d(batch-mean loss): row b's own gradient / B
  const at = (b: number, pos: number) => golden.subarray((b * L + pos) * D, (b * L + pos + 1) * D);

  // Task slot 0 sits on every row's final </s> (the one token all rows share, so splicing id 1 there leaves the rows
  // as they are), task slot 1 is absent; each row is its own user, user slot at position 1 filled with the row's own
  // token. The spliced rows are then exactly the fixture's rows.
  const set = exampleSet({
    inputs,
    targets,
    wholeWords,
    slots: inputs.map((r) => [r.length - 1, -1, 1]),
    numTaskSlots: 2,
    hasUserSlot: true,
  });
  const assignment = { taskTokens: Int32Array.from([1, 5]), userTokens: Int32Array.from(inputs.map((row) => row[1]!)) };

  it('task and per-user slot gradients match the fixture to 1e-4 relative; shard counts agree to 1e-6', async () => {
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    const r = ResidentExampleSet.upload(backbone, set, { batchSize: 1 });
    open.push(r);
    const g = await r.slotGradients(assignment, { perUser: true });
    expect(Array.from(g.userCounts!)).toEqual(inputs.map(() => 1));
    expect(Array.from(g.taskCounts)).toEqual([B, 0]);
    expect(g.examples).toBe(B);
    // The fixture holds d(batch-mean loss)/d e: row b's own-loss gradient is B times its row.
    const tol = 1e-6 + 1e-4 * maxAbs(golden) * B;
    for (let b = 0; b < B; b++) {
      const own = Array.from(at(b, 1), (v) => v * B);
      expect(maxAbsDiff(g.user!.subarray(b * D, (b + 1) * D), own)).toBeLessThanOrEqual(tol);
    }
    // task slot: mean over rows of B * golden[b, eos] = sum over rows of golden[b, eos]
    const expected = new Float32Array(D);
    inputs.forEach((row, b) => at(b, row.length - 1).forEach((v, d) => (expected[d]! += v)));
    expect(maxAbsDiff(g.task.subarray(0, D), expected)).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(expected));
    expect(maxAbs(g.task.subarray(D))).toBe(0);
    const p5 = fx.f('p5_loss').data[0]!;
    expect(Math.abs(g.loss - p5)).toBeLessThanOrEqual(1e-5 * Math.abs(p5));
    for (const streams of [2, B]) {
      const s = await r.slotGradients(assignment, { perUser: true, streams });
      expect(maxAbsDiff(s.task, g.task)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(s.user!, g.user!)).toBeLessThanOrEqual(1e-6);
    }
    // a sampled pass uses exactly `sample` examples
    const sampled = await r.slotGradients(assignment, { perUser: true, sample: 2, seed: 3 });
    expect(sampled.examples).toBe(2);
    expect(Array.from(sampled.userCounts!).reduce((a, c) => a + c, 0)).toBe(2);
  });

  it('task-slot gradients are the mean over examples of each row own-loss gradient', async () => {
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    // Every row gets the same token at its task slots: make that true in the inputs too, then the golden gradient
    // of the batch-mean loss summed over rows at the slot position is exactly the engine's mean.
    const t0 = inputs[0]![0]!;
    const same = inputs.map((r) => [t0, ...r.slice(1)]);
    const s = exampleSet({ inputs: same, targets, wholeWords, slots: same.map(() => [0, -1]), numTaskSlots: 2, hasUserSlot: false });
    const r = ResidentExampleSet.upload(backbone, s, { batchSize: 2 });
    open.push(r);
    const g = await r.slotGradients({ taskTokens: Int32Array.from([t0, 5]) });
    expect(Array.from(g.taskCounts)).toEqual([B, 0]);
    // reference: the engine's own inputGradients (already checked against the fixture in forward.test.ts)
    const ref = await backbone.inputGradients({ inputIds: same, wholeWordIds: wholeWords, labels: targets });
    const Ls = ref.shape[1];
    const expected = new Float32Array(D);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) expected[d]! += ref.gradients[(b * Ls + 0) * D + d]!;
    // mean over rows of B * (batch-mean gradient) = sum over rows of the batch-mean gradient
    expect(maxAbsDiff(g.task.subarray(0, D), expected)).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(expected));
    expect(maxAbs(g.task.subarray(D))).toBe(0);
  });
});

describe('topCandidates', () => {
  it('is -E g restricted to the mask, top-k per row, the same for any chunking', async () => {
    const fx = loadFixture('p5-tiny');
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    const V = backbone.config.vocabSize, D = backbone.config.dModel;
    const E = (await backbone.tensors()).get('shared.weight')!.data;
    const rows = 7, k = 5;
    const grads = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 1.7) * 0.01);
    const mask = Uint8Array.from({ length: V }, (_, t) => (t % 3 === 0 && t > 2 ? 1 : 0));
    const { native } = await import('../../src/native.js');
    const whole = await topCandidates(backbone, grads, rows, k, mask);
    const chunked = await native().topCandidates(backbone.native, grads, rows, k, mask, V * 2); // 2 rows per chunk
    expect(Array.from(chunked.ids)).toEqual(Array.from(whole.ids));
    for (let r = 0; r < rows; r++) {
      const scores = Array.from({ length: V }, (_, t) => {
        let s = 0;
        for (let d = 0; d < D; d++) s -= E[t * D + d]! * grads[r * D + d]!;
        return { t, s };
      }).filter(({ t }) => mask[t]);
      scores.sort((a, b) => b.s - a.s);
      expect(Array.from(whole.ids.subarray(r * k, (r + 1) * k))).toEqual(scores.slice(0, k).map((x) => x.t));
      expect(maxAbsDiff(whole.scores.subarray(r * k, (r + 1) * k), scores.slice(0, k).map((x) => x.s))).toBeLessThanOrEqual(1e-5);
    }
    await expect(topCandidates(backbone, grads, rows, k, new Uint8Array(V + 1))).rejects.toThrow(/vocabulary/);
    await expect(topCandidates(backbone, grads, rows, 0, mask)).rejects.toThrow(/k = 0/);
  });
});
