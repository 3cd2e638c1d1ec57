// Slot gradients against the fixtures' input-embedding gradients, shard invariance, and HotFlip candidates.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { ResidentExampleSet, topCandidates } from '../../src/engine/index.js';
import { FIXTURES, loadFixture, maxAbs, maxAbsDiff } from '../helpers/golden.js';
import { exampleSet, unpad } from './exampleSetHelpers.js';

/** The former TypeScript step, kept here as the reference: per row of [rows, k + 1], the first k ids but `exclude[row]`. */
function dropCurrent(ids: Int32Array, rows: number, k: number, exclude: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j <= k && n < k; j++) {
      const id = ids[r * (k + 1) + j]!;
      if (id !== exclude[r]) out[r * k + n++] = id;
    }
  }
  return out;
}

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

describe('candidates (one native call on the resident set)', () => {
  const fx = loadFixture('p5-tiny');
  const mask = fx.rows('attention_mask');
  const inputs = unpad(fx.rows('input_ids'), mask);
  const targets = fx.rows('labels').map((r) => r.filter((v) => v !== -100));
  const B = inputs.length;
  // two task slots (first token, final </s>), a user slot at position 1; user B has no example
  const set = exampleSet({ inputs, targets, slots: inputs.map((r) => [0, r.length - 1, 1]), numTaskSlots: 2, hasUserSlot: true, numUsers: B + 1 });
  const k = 4;

  it('equal slotGradients + topCandidates(k + 1) + dropCurrent, never hold the current token, break ties by id', async () => {
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    const V = backbone.config.vocabSize;
    const slotMask = Uint8Array.from({ length: V }, (_, t) => (t % 3 === 0 && t > 2 ? 1 : 0));
    const r = ResidentExampleSet.upload(backbone, set, { batchSize: 2, slotMask });
    open.push(r);
    const allowed = [...slotMask.keys()].filter((t) => slotMask[t]);
    const users = Int32Array.from({ length: B + 1 }, (_, u) => allowed[(u * 7) % 20]!);
    users[B] = allowed[0]!; // the no-data user: all its scores tie at 0, so it gets the next k allowed ids
    for (const a of [
      { taskTokens: Int32Array.from([allowed[3]!, allowed[5]!]), userTokens: users },
      { taskTokens: Int32Array.from([allowed[0]!, allowed[0]!]), userTokens: users.map((t) => (t === allowed[0] ? allowed[1]! : allowed[0]!)) },
    ]) {
      const c = await r.candidates(a, { k, perUser: true });
      const g = await r.slotGradients(a, { perUser: true });
      const old = async (grad: Float32Array, rows: number, current: Int32Array) =>
        dropCurrent((await topCandidates(backbone, grad, rows, k + 1, slotMask)).ids, rows, k, current);
      expect(Array.from(c.task)).toEqual(Array.from(await old(g.task, 2, a.taskTokens)));
      expect(Array.from(c.user!)).toEqual(Array.from(await old(g.user!, B + 1, a.userTokens)));
      expect(Array.from(c.userCounts!)).toEqual([...inputs.map(() => 1), 0]);
      expect(c.examples).toBe(B);
      expect(c.loss).toBeCloseTo(g.loss, 10);
      for (let s = 0; s < 2; s++) expect(Array.from(c.task.subarray(s * k, (s + 1) * k))).not.toContain(a.taskTokens[s]);
      for (let u = 0; u <= B; u++) {
        const row = Array.from(c.user!.subarray(u * k, (u + 1) * k));
        expect(row).not.toContain(a.userTokens[u]);
        expect(row.every((t) => slotMask[t] === 1)).toBe(true);
      }
      expect(Array.from(c.user!.subarray(B * k))).toEqual(allowed.filter((t) => t !== a.userTokens[B]).slice(0, k));
    }
    // a sampled pass: the same subset as slotGradients' for the same seed
    const a = { taskTokens: Int32Array.from([allowed[3]!, allowed[5]!]), userTokens: users };
    const c = await r.candidates(a, { k, sample: 2, seed: 3 });
    const g = await r.slotGradients(a, { sample: 2, seed: 3 });
    expect(c.examples).toBe(2);
    expect(c.user).toBeUndefined();
    expect(Array.from(c.task)).toEqual(Array.from(dropCurrent((await topCandidates(backbone, g.task, 2, k + 1, slotMask)).ids, 2, k, a.taskTokens)));
    await expect(r.candidates(a, { k: allowed.length })).rejects.toThrow(/k = \d+ must be in \[1, \d+\]/);
    await expect(r.candidates({ taskTokens: a.taskTokens }, { k, perUser: true })).rejects.toThrow(/userTokens/);
  });

  it('a sampled pass takes the first `sample` examples of a SplitMix64 Fisher-Yates shuffle (no standard-library RNG)', async () => {
    const M = (1n << 64n) - 1n;
    const mix = (z0: bigint) => {
      let z = (z0 + 0x9e3779b97f4a7c15n) & M;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
      return z ^ (z >> 31n);
    };
    const shuffled = (n: number, seed: number) => {
      let state = BigInt(seed);
      const v = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        state = mix(state);
        const j = Number(state % BigInt(i + 1));
        [v[i], v[j]] = [v[j]!, v[i]!];
      }
      return v;
    };
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    const r = ResidentExampleSet.upload(backbone, set, { batchSize: 2 });
    open.push(r);
    const a = { taskTokens: Int32Array.from([3, 6]), userTokens: new Int32Array(B + 1).fill(3) };
    for (const seed of [3, 7, 12345]) {
      const g = await r.slotGradients(a, { perUser: true, sample: 2, seed });
      const chosen = [...g.userCounts!.keys()].filter((u) => g.userCounts![u] === 1);
      expect(chosen).toEqual(shuffled(B, seed).slice(0, 2).sort((x, y) => x - y));
    }
  });

  it('refuses a set uploaded without slotMask', async () => {
    const backbone = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    open.push(backbone);
    const r = ResidentExampleSet.upload(backbone, set, { batchSize: 2 });
    open.push(r);
    await expect(r.candidates({ taskTokens: Int32Array.from([3, 6]) }, { k })).rejects.toThrow(/without slotMask/);
  });
});
