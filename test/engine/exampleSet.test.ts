// Resident example sets: splicing, ranks, generated ids, losses, shard invariance and bad input.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { ResidentExampleSet } from '../../src/engine/index.js';
import { loadFixture, maxAbsDiff } from '../helpers/golden.js';
import { exampleSet, unpad } from './exampleSetHelpers.js';

const fx = loadFixture('p5-eos');
const genInputs = unpad(fx.rows('gen.input_ids'), fx.rows('gen.attention_mask'));
const genWholeWords = unpad(fx.rows('gen.whole_word_ids'), fx.rows('gen.attention_mask'));
const beam20 = fx.rows('gen.beam20.sequences'); // [rows * 10, len]
const beamOpts = { numBeams: 20, numReturnSequences: 10, maxLength: 8, earlyStopping: true };

/** A returned hypothesis as a target: tokens after the start token up to </s>, then </s>. */
function asTarget(seq: number[]): number[] {
  const body = seq.slice(1);
  const end = body.indexOf(1);
  return [...(end < 0 ? body : body.slice(0, end)), 1];
}

let backbone: Backbone;
const sets: ResidentExampleSet[] = [];
afterAll(() => {
  sets.forEach((s) => s.dispose());
  backbone?.dispose();
});
async function model() {
  return (backbone ??= await Backbone.load(path.join(fx.dir, 'model.safetensors')));
}

// Slots at positions 1 (task 0) and 3 (task 1), user slot at 0; tokens = the rows' own ids there.
const slots = genInputs.map(() => [1, 3, 0]);
const ownTask = Int32Array.from([genInputs[0]![1]!, genInputs[0]![3]!]);

describe('resident example set: outcomes', () => {
  it('ranks of chosen beam hypotheses are their positions (whole-word embeddings on)', async () => {
    const wanted = genInputs.map((_, i) => (i * 3) % 10); // which returned hypothesis is the target of row i
    const targets = genInputs.map((_, i) => asTarget(beam20[i * 10 + wanted[i]!]!));
    // slot tokens must be the same in every row for a task slot: only row-independent splicing keeps the fixture
    // inputs, so rows get their own token back through the per-user table and the task slots are off (-1).
    const set = exampleSet({
      inputs: genInputs,
      wholeWords: genWholeWords,
      targets,
      slots: genInputs.map(() => [-1, -1, 2]),
      numTaskSlots: 2,
      hasUserSlot: true,
    });
    const r = ResidentExampleSet.upload(await model(), set, { batchSize: 3 });
    sets.push(r);
    const userTokens = Int32Array.from(genInputs.map((row) => row[2]!));
    const [ranks] = await r.evaluate([{ taskTokens: ownTask, userTokens }], beamOpts);
    expect(Array.from(ranks!)).toEqual(wanted.map((w) => w + 1));
    // a target nobody generates is absent (0)
    const absent = exampleSet({ ...{ inputs: genInputs, wholeWords: genWholeWords }, targets: genInputs.map(() => [7, 7, 7, 7, 1]), slots: genInputs.map(() => [-1, -1, -1]), numTaskSlots: 2, hasUserSlot: true });
    const ra = ResidentExampleSet.upload(await model(), absent);
    sets.push(ra);
    const [none] = await ra.evaluate([{ taskTokens: ownTask }], beamOpts);
    expect(Array.from(none!)).toEqual(genInputs.map(() => 0));
  });

  it('spliced evaluation equals generate() on the edited rows; k assignments in one call', async () => {
    const b = await model();
    const set = exampleSet({ inputs: genInputs, wholeWords: genWholeWords, targets: genInputs.map(() => [5, 1]), slots, numTaskSlots: 2, hasUserSlot: true, task: 'explanation' });
    const r = ResidentExampleSet.upload(b, set, { batchSize: 2 });
    sets.push(r);
    const users = Int32Array.from(genInputs.map((_, i) => 30 + 3 * i));
    const assignments = [
      { taskTokens: Int32Array.from([42, 99]), userTokens: users },
      { taskTokens: Int32Array.from([7, 123]) },
    ];
    const outs = await r.evaluate(assignments, beamOpts);
    expect(outs).toHaveLength(2);
    for (const [k, a] of assignments.entries()) {
      const edited = genInputs.map((row, i) => {
        const e = [...row];
        e[1] = a.taskTokens[0]!;
        e[3] = a.taskTokens[1]!;
        if (a.userTokens) e[0] = a.userTokens[i]!;
        return e;
      });
      const g = await b.generate({ inputIds: edited, wholeWordIds: genWholeWords }, beamOpts);
      const width = beamOpts.maxLength - 1;
      for (let i = 0; i < genInputs.length; i++) {
        const best = Array.from(g.sequences.subarray(i * 10 * g.shape[1], i * 10 * g.shape[1] + g.shape[1])).slice(1);
        const got = Array.from(outs[k]!.subarray(i * width, (i + 1) * width));
        expect(got).toEqual([...best, ...new Array(width - best.length).fill(0)]);
      }
    }
  });

  it('per-example losses equal forward() on the spliced batch', async () => {
    const b = await model();
    const inputs = unpad(fx.rows('input_ids'), fx.rows('attention_mask'));
    const targets = fx.rows('labels').map((r) => r.filter((v) => v !== -100));
    const wholeWords = unpad(fx.rows('whole_word_ids'), fx.rows('attention_mask'));
    const set = exampleSet({ inputs, targets, wholeWords, slots: inputs.map(() => [1, 2, 0]), numTaskSlots: 2, hasUserSlot: true, userIndex: [0, 1, 0, 1], numUsers: 2 });
    const r = ResidentExampleSet.upload(b, set, { batchSize: 3 });
    sets.push(r);
    const a = { taskTokens: Int32Array.from([11, 12]), userTokens: Int32Array.from([13, 14]) };
    const [loss] = await r.loss([a]);
    const edited = inputs.map((row, i) => {
      const e = [...row];
      e[1] = 11;
      e[2] = 12;
      e[0] = i % 2 ? 14 : 13;
      return e;
    });
    const ref = await b.forward({ inputIds: edited, wholeWordIds: wholeWords, labels: targets });
    expect(maxAbsDiff(loss!, ref.lossPerExample)).toBeLessThanOrEqual(1e-5);
  });
});

describe('resident example set: shards', () => {
  it('ranks and losses are identical for 1, 2 and 3 shards', async () => {
    const b = await model();
    const targets = genInputs.map((_, i) => asTarget(beam20[i * 10 + 2]!));
    const set = exampleSet({ inputs: genInputs, wholeWords: genWholeWords, targets, slots, numTaskSlots: 2, hasUserSlot: true });
    const r = ResidentExampleSet.upload(b, set, { batchSize: 1 });
    sets.push(r);
    const a = [{ taskTokens: ownTask }, { taskTokens: Int32Array.from([50, 60]) }];
    const base = await r.evaluate(a, { ...beamOpts, streams: 1 });
    const baseLoss = await r.loss(a, { streams: 1 });
    for (const streams of [2, 3]) {
      expect((await r.evaluate(a, { ...beamOpts, streams })).map((x) => Array.from(x))).toEqual(base.map((x) => Array.from(x)));
      const l = await r.loss(a, { streams });
      l.forEach((x, i) => expect(maxAbsDiff(x, baseLoss[i]!)).toBeLessThanOrEqual(1e-6));
    }
  });
});

describe('resident example set: bad input', () => {
  const good = () =>
    exampleSet({ inputs: genInputs, wholeWords: genWholeWords, targets: genInputs.map(() => [5, 1]), slots, numTaskSlots: 2, hasUserSlot: true });

  it('rejects bad sets at upload', async () => {
    const b = await model();
    const outside = good();
    outside.slotPositions[4] = 500;
    expect(() => ResidentExampleSet.upload(b, outside)).toThrow(/slotPositions: row 1 slot 1 at position 500 is outside the row/);
    const vocab = good();
    vocab.inputIds[3] = 32000;
    expect(() => ResidentExampleSet.upload(b, vocab)).toThrow(/inputIds\[3\] = 32000 is outside \[0, 500\).*tokenizer/);
    const empty = exampleSet({ inputs: [], targets: [], slots: [], numTaskSlots: 2, hasUserSlot: false });
    expect(() => ResidentExampleSet.upload(b, empty)).toThrow(/empty/);
    expect(() => ResidentExampleSet.upload(b, good(), { slotMask: new Uint8Array(32100) })).toThrow(/vocabulary 500/);
    expect(() => ResidentExampleSet.upload(b, good(), { batchSize: 4, streams: 3 })).toThrow(/more streams than work/);
    const users = good();
    users.userIndex[0] = 99;
    expect(() => ResidentExampleSet.upload(b, users)).toThrow(/userIndex\[0\] = 99/);
  });

  it('rejects bad assignments with clear errors', async () => {
    const b = await model();
    const mask = new Uint8Array(500).fill(1);
    mask[77] = 0;
    const r = ResidentExampleSet.upload(b, good(), { slotMask: mask, batchSize: 2 });
    sets.push(r);
    const opts = { numBeams: 2, numReturnSequences: 1, maxLength: 3 };
    await expect(r.evaluate([{ taskTokens: Int32Array.from([1, 2, 3]) }], opts)).rejects.toThrow(/taskTokens has 3 tokens.*2 task slots/);
    await expect(r.evaluate([{ taskTokens: Int32Array.from([1, 500]) }], opts)).rejects.toThrow(/token id 500 is outside/);
    await expect(r.loss([{ taskTokens: ownTask, userTokens: new Int32Array(3) }])).rejects.toThrow(/userTokens has 3 entries.*4 users/);
    await expect(r.evaluate([{ taskTokens: Int32Array.from([77, 5]) }], opts)).rejects.toThrow(/not allowed in a slot/);
    await expect(r.evaluate([{ taskTokens: ownTask }], { ...opts, streams: 9 })).rejects.toThrow(/more streams than work/);
    await expect(r.evaluate([], opts)).rejects.toThrow(/empty/);
  });
});
