// Calls on one model queue in TypeScript: while an epoch runs the event loop keeps turning, step() answers at once
// (an atomic), and dispose() waits for the epoch instead of freeing the model under it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backbone } from '../../src/backbone/index.js';
import { loadDataset } from '../../src/data/dataset.js';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { BackboneTrainer, epochExamples, packTrainData, type TrainData } from '../../src/train/index.js';

let dir: string;
let data: TrainData;
let vocabSize: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'paprec-queue-'));
  const demo = await writeDemoData(dir, { seed: 5, users: 60, items: 130 });
  const tokenizer = await loadTokenizer(demo.tokenizerPath);
  vocabSize = tokenizer.vocabSize;
  const ds = await loadDataset(demo.dataDir);
  data = packTrainData(epochExamples(ds, { tasks: ['sequential'], epoch: 0, seed: 1, sequentialPerUser: 12 }), tokenizer);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one queue per model', () => {
  it('an epoch never blocks the event loop; step() does not wait; dispose() waits for the epoch, then calls are refused', async () => {
    const b = await Backbone.create({ vocabSize, dModel: 64, dKv: 16, dFf: 128, numHeads: 4, numLayers: 2 }, { seed: 3 });
    const t = new BackboneTrainer(b, { lr: 1e-3, seed: 1 });
    // The upload copies the rows synchronously (on purpose: JS memory is read on the JS thread), so it comes before
    // the timer that watches the event loop during the epoch.
    const rows = t.upload(data);
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    try {
      const started = performance.now();
      let ended: number | undefined;
      let reported = 0;
      const epoch = t.runEpoch(rows, { epoch: 0, batchSize: 8 }, (p) => (reported = p.step));
      void epoch.then(() => (ended = performance.now()));
      await sleep(250);
      const before = performance.now();
      const step = t.step;
      expect(performance.now() - before).toBeLessThan(5); // no wait on the model's lock
      expect(ended).toBeUndefined(); // the epoch is still running
      expect(step).toBeGreaterThan(0);
      expect(step).toBeGreaterThanOrEqual(reported);
      let freed: number | undefined;
      const disposed = b.dispose();
      void disposed.then(() => (freed = performance.now()));
      expect(b.dispose()).toBe(disposed); // idempotent
      expect(() => b.device).toThrow(/used after dispose/);
      await expect(t.evaluateLoss(rows)).rejects.toThrow(/used after dispose/); // the set uploaded above
      expect(() => t.upload({ ...data })).toThrow(/used after dispose/);
      const r = await epoch; // the running epoch ends normally
      await disposed;
      expect(r.stopped).toBe(false);
      expect(r.batch).toBe(r.batches);
      expect(r.step).toBe(r.batches);
      expect(t.step).toBe(r.batches);
      expect(ended! - started).toBeGreaterThan(500);
      expect(freed!).toBeGreaterThanOrEqual(ended!);
      await expect(t.runEpoch(t.upload(data), { epoch: 1, batchSize: 8 })).rejects.toThrow(/used after dispose/);
      await expect(b.tensors()).rejects.toThrow(/used after dispose/);
    } finally {
      clearInterval(timer);
    }
    if (process.env.PAPREC_SHOW_GAP) console.log(`largest timer gap during the epoch: ${maxGap.toFixed(1)} ms`);
    expect(maxGap).toBeLessThan(50);
  }, 60_000);

  it('a synchronous call that would race a running one is refused, not blocked on', async () => {
    const b = await Backbone.create({ vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2 }, { seed: 4 });
    const t = new BackboneTrainer(b, { lr: 1e-3, seed: 1 });
    const weights = await b.tensors();
    const epoch = t.runEpoch(t.upload(data), { epoch: 0, batchSize: 8 });
    expect(() => b.setTensors(weights)).toThrow(/a call on this model is running/);
    expect(() => b.nonFinite()).toThrow(/a call on this model is running/);
    await epoch;
    expect(b.nonFinite()).toBeUndefined();
    b.setTensors(weights);
    await b.dispose();
  }, 60_000);
});
