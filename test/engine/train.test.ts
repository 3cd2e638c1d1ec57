// Training in the engine: AdamW steps on a tiny model, reproducibility, exact resume from exported state, stop,
// NaN handling, bad data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { loadDataset } from '../../src/data/dataset.js';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { BackboneTrainer, epochExamples, packTrainData, type TrainData } from '../../src/train/index.js';
import type { Tensor } from '../../src/checkpoint/index.js';

let dir: string;
let data: TrainData;
let data2: TrainData;
let vocabSize: number;
const made: Backbone[] = [];

const tiny = () => ({ vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2 });
async function model(seed = 3): Promise<Backbone> {
  const b = await Backbone.create(tiny(), { seed });
  made.push(b);
  return b;
}
const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
function expectIdentical(a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, t] of a) {
    const u = b.get(name)!;
    const same = t.data.every((v, i) => Object.is(v, u.data[i]));
    expect(same, `tensor ${name} differs`).toBe(true);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'paprec-train-'));
  const demo = await writeDemoData(dir, { seed: 11, users: 30, items: 130 });
  const tokenizer = await loadTokenizer(demo.tokenizerPath);
  vocabSize = tokenizer.vocabSize;
  const ds = await loadDataset(demo.dataDir);
  data = packTrainData(epochExamples(ds, { tasks: ['sequential'], epoch: 0, seed: 1, sequentialPerUser: 2 }), tokenizer);
  data2 = packTrainData(epochExamples(ds, { tasks: ['sequential', 'matching'], epoch: 1, seed: 1 }), tokenizer);
});

afterAll(() => {
  made.forEach((b) => b.dispose());
  rmSync(dir, { recursive: true, force: true });
});

describe('BackboneTrainer', () => {
  it('starts from T5 initial weights, with the whole-word embeddings at zero', async () => {
    const t = await (await model()).tensors();
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    expect(std(t.get('shared.weight')!.data)).toBeGreaterThan(0.9);
    expect(std(t.get('shared.weight')!.data)).toBeLessThan(1.1);
    expect(t.get('encoder.whole_word_embeddings.weight')!.data.every((x) => x === 0)).toBe(true);
  });

  it('lowers the loss of the data it trains on, reporting every step', async () => {
    const b = await model();
    const trainer = new BackboneTrainer(b, { lr: 1e-2, seed: 1, warmupSteps: 2 });
    const before = mean(await trainer.evaluateLoss(trainer.upload(data)));
    const seen: number[] = [];
    let last;
    for (let epoch = 0; epoch < 5; epoch++) {
      last = await trainer.runEpoch(trainer.upload(data), { epoch, batchSize: 16 }, (p) => seen.push(p.step));
    }
    const after = mean(await trainer.evaluateLoss(trainer.upload(data)));
    expect(after).toBeLessThan(before - 1);
    expect(last!.step).toBe(5 * Math.ceil((data.inputOffsets.length - 1) / 16));
    expect(trainer.step).toBe(last!.step);
    await new Promise((r) => setTimeout(r, 50)); // progress calls may trail the promise by a tick
    expect(seen.length).toBe(last!.step);
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(last!.examplesPerSecond).toBeGreaterThan(0);
  });

  it("takes Adam's first step: lr per weight, or lr x the tensor's RMS with AdamW-scale", async () => {
    // Step 1 of Adam moves every weight whose gradient dwarfs eps by exactly lr * scale (m / sqrt(v) = sign(g)).
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    for (const rmsScaled of [false, true]) {
      const b = await model(8);
      const before = await b.tensors();
      const lr = 1e-3;
      const trainer = new BackboneTrainer(b, { lr, weightDecay: 0, clipNorm: 0, rmsScaled });
      await trainer.runEpoch(trainer.upload(data), { epoch: 0, batchSize: data.inputOffsets.length });
      const after = await b.tensors();
      for (const name of ['shared.weight', 'encoder.block.0.layer.0.SelfAttention.q.weight', 'decoder.block.1.layer.2.DenseReluDense.wo.weight']) {
        const p0 = before.get(name)!.data;
        const p1 = after.get(name)!.data;
        const step = p0.reduce((m, x, i) => Math.max(m, Math.abs(p1[i]! - x)), 0);
        const expected = lr * (rmsScaled ? Math.max(1e-3, rms(p0)) : 1);
        expect(step / expected, `${name}, rmsScaled ${rmsScaled}`).toBeCloseTo(1, 3);
      }
    }
  });

  it('warm-up then linear decay to zero', async () => {
    const trainer = new BackboneTrainer(await model(), { lr: 1e-3, warmupSteps: 10, totalSteps: 110 });
    expect(trainer.lrAt(0)).toBeCloseTo(1e-4, 12);
    expect(trainer.lrAt(9)).toBeCloseTo(1e-3, 12);
    expect(trainer.lrAt(60)).toBeCloseTo(0.5e-3, 12);
    expect(trainer.lrAt(110)).toBe(0);
  });

  it.each([1, 2])('is reproducible, and resuming from exported weights + optimizer state is bit-identical (%i shards)', async (shards) => {
    const opts = { lr: 5e-3, seed: 7, warmupSteps: 3, totalSteps: 40, shards };
    const a = await model(5);
    const ta = new BackboneTrainer(a, opts);
    await ta.runEpoch(ta.upload(data), { epoch: 0, batchSize: 8 });
    const afterOne = await a.tensors();
    const state = await ta.state();
    await ta.runEpoch(ta.upload(data2), { epoch: 1, batchSize: 8 });
    const straight = await a.tensors();

    const c = await model(99); // other initial weights: everything must come from the state
    c.setTensors(afterOne);
    const tc = new BackboneTrainer(c, opts);
    tc.setState(state);
    expect(tc.step).toBe(state.step);
    await tc.runEpoch(tc.upload(data2), { epoch: 1, batchSize: 8 });
    expectIdentical(straight, await c.tensors());
    expectIdentical((await ta.state()).expAvgSq, (await tc.state()).expAvgSq);
  });

  it('splits a batch into parallel shards without changing the step (dropout off)', async () => {
    // The same batches, losses summed over shards: the step losses agree to float rounding (Adam turns rounding
    // in near-zero gradients into visible weight differences, so the losses are what is compared).
    const runs: number[][] = [];
    for (const shards of [1, 2, 3]) {
      const b = await Backbone.create({ ...tiny(), dropoutRate: 0 }, { seed: 6 });
      made.push(b);
      const trainer = new BackboneTrainer(b, { lr: 5e-3, seed: 1, shards });
      const losses: number[] = [];
      for (let epoch = 0; epoch < 2; epoch++) await trainer.runEpoch(trainer.upload(data), { epoch, batchSize: 16 }, (p) => losses.push(p.loss));
      await new Promise((r) => setTimeout(r, 50)); // progress calls may trail the promise by a tick
      losses.push(mean(await trainer.evaluateLoss(trainer.upload(data))));
      runs.push(losses);
    }
    expect(runs[0]!.length).toBe(2 * Math.ceil((data.inputOffsets.length - 1) / 16) + 1);
    for (const other of runs.slice(1)) {
      expect(other.length).toBe(runs[0]!.length);
      other.forEach((x, i) => expect(Math.abs(x - runs[0]![i]!), `loss ${i}`).toBeLessThan(1e-3));
    }
  });

  it('resumes inside an epoch: stopped after some batches, continued with startBatch', async () => {
    const opts = { lr: 5e-3, seed: 2 };
    const a = await model(4);
    const ta = new BackboneTrainer(a, opts);
    await ta.runEpoch(ta.upload(data), { epoch: 0, batchSize: 8 });
    const straight = await a.tensors();

    const b = await model(4);
    const tb = new BackboneTrainer(b, opts);
    const r = await tb.runEpoch(tb.upload(data), { epoch: 0, batchSize: 8 }, (p) => {
      if (p.batch === 1) tb.stop(); // checked before the next step
    });
    expect(r.stopped).toBe(true);
    const done = r.batch;
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(r.batches);
    const weights = await b.tensors();
    const state = await tb.state();
    const c = await model(4);
    c.setTensors(weights);
    const tc = new BackboneTrainer(c, opts);
    tc.setState(state);
    const rest = await tc.runEpoch(tc.upload(data), { epoch: 0, batchSize: 8, startBatch: done });
    expect(rest.stopped).toBe(false);
    expect(rest.step).toBe(r.batches);
    expectIdentical(straight, await c.tensors());
  });

  it('stops on a non-finite loss without applying that step', async () => {
    const b = await model();
    const trainer = new BackboneTrainer(b, { lr: 1e-3 });
    const r = await trainer.runEpoch(trainer.upload(data), { epoch: 0, batchSize: 8, nanAtStep: 2 });
    expect(r.nonFinite).toBe(true);
    expect(r.nonFiniteStep).toBe(2);
    expect(trainer.step).toBe(2);
    for (const t of (await b.tensors()).values()) expect(t.data.every(Number.isFinite)).toBe(true);
  });

  it('refuses bad data and bad optimizer state with messages naming the field', async () => {
    const trainer = new BackboneTrainer(await model(), { lr: 1e-3 });
    const bad = { ...data, targetIds: data.targetIds.slice() };
    bad.targetIds[3] = vocabSize + 5;
    expect(trainer.upload(data)).toBe(trainer.upload(data)); // one upload per rows object
    expect(trainer.upload(data).size).toBe(data.inputOffsets.length - 1);
    const other = new BackboneTrainer(made[0]!, { lr: 1e-3 });
    await expect(trainer.runEpoch(other.upload(data), { epoch: 0, batchSize: 8 })).rejects.toThrow(/another backbone/);
    expect(() => trainer.upload(bad)).toThrow(/targetIds\[3\] = \d+ is outside \[0, \d+\)/);
    expect(() => trainer.upload({ ...data, inputOffsets: data.inputOffsets.slice(1) })).toThrow(/inputOffsets|inputs but/);
    const state = await trainer.state();
    state.expAvg.delete('shared.weight');
    expect(() => trainer.setState(state)).toThrow(/no exp_avg for tensor shared.weight/);
    expect(() => new BackboneTrainer(made[0]!, { lr: -1 })).toThrow(/lr must be a positive number/);
    expect(() => new BackboneTrainer(made[0]!, { lr: 1e-3, shards: -1 })).toThrow(/shards must be >= 0/);
  });
});
