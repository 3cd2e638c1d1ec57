// The Recommender over the native engine (tiny random P5 on the demo world's tokenizer, CPU): constrained decoding
// checked against teacher-forced scores, batching against single calls, the eval path against the resident sets,
// and every request check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset, type P5Dataset } from '../../src/data/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { ResidentExampleSet } from '../../src/engine/index.js';
import { native, type NativeConstraint } from '../../src/native.js';
import { toNativeBatch } from '../../src/backbone/batch.js';
import { automatedPrompt, manualPrompt, packExampleSet, SegmentEncoder, promptExamples, type PromptExample } from '../../src/prompts/index.js';
import { Recommender, itemSequences } from '../../src/recommend/index.js';
import type { Tokenizer } from '../../src/types.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-rec-engine-'));
let tok: Tokenizer;
let ds: P5Dataset;
let backbone: Backbone;
let seq: Recommender;

beforeAll(async () => {
  const files = await writeDemoData(tmp, { seed: 5, users: 40, items: 120, minLength: 5, maxLength: 12 });
  tok = await loadTokenizer(files.tokenizerPath);
  ds = await loadDataset(files.dataDir);
  backbone = await Backbone.create(
    { vocabSize: tok.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, wholeWordEmbeddings: true },
    { seed: 11, device: 'cpu' },
  );
  seq = new Recommender({ backbone, tokenizer: tok, prompt: manualPrompt('2-3'), dataset: ds });
});
afterAll(() => {
  backbone?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** -loss of `items` as targets of `inputIds`: the sequence score beam search reports (sum log p / length). */
async function teacherForcedScores(inputIds: readonly number[], wholeWordIds: readonly number[], items: number[]): Promise<number[]> {
  const enc = new SegmentEncoder(tok);
  const r = await backbone.forward(
    { inputIds: items.map(() => inputIds), wholeWordIds: items.map(() => wholeWordIds), labels: items.map((i) => enc.encodeWithEos(String(i))) },
    { logits: false },
  );
  return Array.from(r.lossPerExample, (l) => -l);
}

describe('constrained decoding', () => {
  it('with beams >= candidates, returns every candidate, ranked by its exact sequence score', async () => {
    const candidates = [7, 23, 45, 101, 118, 3];
    const p = seq.prepare({ user: 2, candidates }, { k: 6, beams: 8 });
    expect(p.constraint).not.toBeNull(); // a sequential prompt: candidates can only constrain
    const [r] = await seq.run([p], { beams: 8 });
    expect([...r!.items].sort((a, b) => a - b)).toEqual([...candidates].sort((a, b) => a - b));
    const exact = await teacherForcedScores(p.inputIds, p.wholeWordIds, r!.items);
    r!.scores.forEach((s, i) => expect(s).toBeCloseTo(exact[i]!, 4));
    for (let i = 1; i < r!.scores.length; i++) expect(r!.scores[i]!).toBeLessThanOrEqual(r!.scores[i - 1]!);
  });

  it('over the catalogue: k distinct real items for every user of a batch; unconstrained answers are filtered the same way', async () => {
    const users = [1, 2, 3, 4, 5].map((user) => ({ user }));
    const constrained = await seq.recommendBatch(users, { k: 10, beams: 10, constrained: true });
    for (const r of constrained) {
      expect(r.items).toHaveLength(10);
      expect(new Set(r.items).size).toBe(10);
      for (const i of r.items) expect(seq.catalogue!.has(i)).toBe(true);
    }
    const free = await seq.recommendBatch(users, { k: 10, beams: 10 });
    for (const r of free) {
      expect(r.items.length).toBeLessThanOrEqual(10);
      expect(new Set(r.items).size).toBe(r.items.length);
      for (const i of r.items) expect(seq.catalogue!.has(i)).toBe(true);
    }
  });

  it('fewer valid sequences than beams: the ruled-out beams never show up', async () => {
    const [r] = await seq.recommendBatch([{ user: 1, candidates: [12, 34] }], { k: 5, beams: 5 });
    expect([...r!.items].sort((a, b) => a - b)).toEqual([12, 34]);
    expect(r!.scores.every(Number.isFinite)).toBe(true);
  });

  it('a matching prompt renders the candidates and, constrained, picks only among them', async () => {
    const match = new Recommender({ backbone, tokenizer: tok, prompt: manualPrompt('5-7'), dataset: ds });
    const candidates = [2, 17, 33, 48, 64, 80, 96, 112];
    const p = match.prepare({ user: 4, candidates }, { k: 5, beams: 8, constrained: true });
    expect(tok.decode(p.inputIds)).toContain(candidates.join(' , '));
    const [r] = await match.run([p], { beams: 8 });
    expect(r!.items).toHaveLength(5);
    for (const i of r!.items) expect(candidates).toContain(i);
  });

  it('greedy decoding (1 beam) follows the constraint too', async () => {
    const enc = new SegmentEncoder(tok);
    const p = seq.prepare({ user: 3 }, { k: 1, beams: 1 });
    const allowed = itemSequences([5, 55, 105], enc);
    const r = await native().generate(backbone.native, toNativeBatch({ inputIds: [p.inputIds], wholeWordIds: [p.wholeWordIds] }), {
      numBeams: 1,
      numReturnSequences: 1,
      maxLength: 8,
      constraint: { sets: [allowed] },
    });
    const out = Array.from(r.sequences.subarray(1, r.sequences.indexOf(1) + 1));
    const options = [5, 55, 105].map((i) => enc.encodeWithEos(String(i)));
    expect(options.some((o) => o.join(',') === out.join(','))).toBe(true);
  });

  it('the engine names a bad constraint', async () => {
    const p = seq.prepare({ user: 3 });
    const batch = toNativeBatch({ inputIds: [p.inputIds] });
    const opts = { numBeams: 2, numReturnSequences: 1, maxLength: 6 };
    // bad options throw on the calling thread; async makes every failure a rejection
    const gen = async (constraint: NativeConstraint) => native().generate(backbone.native, batch, { ...opts, constraint });
    await expect(gen({ sets: [] })).rejects.toThrow(/constraint.sets: expected a non-empty array/);
    const set = { ids: Int32Array.of(5, tok.vocabSize), offsets: Int32Array.of(0, 2) };
    await expect(gen({ sets: [set] })).rejects.toThrow(
      new RegExp(`constraint.sets\\[0\\]: sequence 0 holds id ${tok.vocabSize}, outside \\[0, ${tok.vocabSize}\\)`),
    );
    const ok = { ids: Int32Array.of(5, 1), offsets: Int32Array.of(0, 2) };
    await expect(gen({ sets: [ok], rowSet: Int32Array.of(0, 0) })).rejects.toThrow(
      /constraint: rowSet has 2 entries, the batch has 1 rows/,
    );
    await expect(gen({ sets: [ok], rowSet: Int32Array.of(1) })).rejects.toThrow(
      /constraint rowSet\[0\] = 1 is outside \[-1, 1\)/,
    );
  });
});

describe('Recommender', () => {
  it('one batched call gives what single calls give', async () => {
    const reqs = [{ user: 6 }, { user: 7, history: [3, 4, 5] }, { user: 8, candidates: [9, 10, 11, 12] }];
    const batch = await seq.recommendBatch(reqs, { k: 5, beams: 6, constrained: true });
    for (let i = 0; i < reqs.length; i++) {
      const single = await seq.recommend(reqs[i]!, { k: 5, beams: 6, constrained: true });
      expect(batch[i]!.items).toEqual(single.items);
      batch[i]!.scores.forEach((s, j) => expect(s).toBeCloseTo(single.scores[j]!, 4));
    }
  });

  it('renders the history truncated to the 20 most recent items, with the data history as default', async () => {
    const long = Array.from({ length: 30 }, (_, i) => i + 1);
    const text = tok.decode(seq.prepare({ user: 1, history: long }).inputIds);
    expect(text).toContain('11 , 12');
    expect(text).not.toMatch(/ 10 , 11/);
    const own = ds.users[0]!.items;
    expect(tok.decode(seq.prepare({ user: 1 }).inputIds)).toContain(own.slice(-20).join(' , '));
  });

  it('a personalized prompt gives users outside its table the default user token', async () => {
    const word = tok.pieceToId('\u2581good')!;
    const prompt = automatedPrompt(tok, { task: 'sequential', taskTokens: [word, word], personalized: true, numUsers: 2, userTokens: [word, word] });
    const rec = new Recommender({ backbone, tokenizer: tok, prompt });
    const known = rec.prepare({ user: 2, history: [1, 2] }).inputIds;
    const unseen = rec.prepare({ user: 500, history: [1, 2] }).inputIds;
    expect(known.at(-2)).toBe(word); // [T_u] sits last, before </s>
    expect(unseen.at(-2)).toBe(prompt.defaultUserToken);
    expect(unseen.slice(-4, -2)).toEqual([word, word]);
  });

  it('errors name the field: unknown items, unknown users, types, limits', () => {
    expect(() => seq.prepare({ user: 1, history: [3, 999, 998] })).toThrow('request.history: unknown item ids 999, 998 (not in the catalogue of 120 items)');
    expect(() => seq.prepare({ user: 1, history: [3, 'x' as never] })).toThrow('request.history[1]: expected an item id (a positive integer), got "x"');
    expect(() => seq.prepare({ user: 41 })).toThrow('request.user: user 41 is not in the data (users 1..40) and the request gives no history');
    expect(() => seq.prepare({ user: 0 })).toThrow('request.user: expected a user id (a positive integer), got 0');
    expect(() => seq.prepare({ user: 1, k: 30 })).toThrow('request.k: 30 is more than the 20 beams the search keeps');
    expect(() => seq.prepare({ user: 1, usr: 2 } as never)).toThrow(/request.usr: unknown field/);
    expect(() => seq.prepare({ user: 1, history: [] })).toThrow(/request.history: empty/);
    expect(() => seq.prepare({ user: 1, constrained: 'yes' as never })).toThrow(/request.constrained: expected true or false/);
    const noData = new Recommender({ backbone, tokenizer: tok, prompt: manualPrompt('2-3') });
    expect(() => noData.prepare({ user: 1 })).toThrow(/request.history: required \(no data folder/);
    expect(() => noData.prepare({ user: 1, history: [1], constrained: true })).toThrow(/request.constrained: needs the catalogue/);
    const match = new Recommender({ backbone, tokenizer: tok, prompt: manualPrompt('5-7'), dataset: ds });
    expect(() => match.prepare({ user: 1 })).toThrow(/request.candidates: required/);
    expect(() => match.prepare({ user: 1, history: [1], candidates: [1] })).toThrow(/request.history: a matching prompt reads no history/);
  });
});

describe('the eval path (rankTargets) decodes what the resident sets decode', () => {
  it("targets set to the model's own j-th output are ranked j by both paths", async () => {
    const base = promptExamples(ds, 'sequential', 'test', ds.seed).slice(0, 16);
    const prompt = manualPrompt('2-3');
    const enc = new SegmentEncoder(tok);
    const set0 = packExampleSet(base, tok, { task: 'sequential', split: 'test', prompt, numUsers: ds.users.length });
    const rows = base.map((_, i) => {
      const ids = Array.from(set0.inputIds.subarray(set0.inputOffsets[i]!, set0.inputOffsets[i + 1]!));
      return { inputIds: ids, wholeWordIds: tok.wholeWordIds(ids), constraint: null };
    });
    const outs = await seq.generate(rows, { beams: 6, returnSequences: 6, maxLength: 8 });
    const examples: PromptExample[] = [];
    const expected: number[] = [];
    base.forEach((ex, i) => {
      const { texts, ids } = outs[i]!;
      const j = i % 4;
      // kept when the j-th output's text is new at j and its pieces are the text's own encoding (the resident path
      // compares pieces, the Recommender decoded texts: the two agree exactly then)
      if (texts[j] === undefined || texts[j] === '' || texts.indexOf(texts[j]!) !== j) return;
      if (enc.encodeWithEos(texts[j]!).join(',') !== [...ids[j]!, 1].join(',')) return;
      examples.push({ ...ex, target: texts[j]! });
      expected.push(j + 1);
    });
    expect(examples.length).toBeGreaterThan(4);
    const mine = await seq.rankTargets(examples, { beams: 6, returnSequences: 6, maxLength: 8, constrained: false });
    expect(Array.from(mine)).toEqual(expected);
    const set = packExampleSet(examples, tok, { task: 'sequential', split: 'test', prompt, numUsers: ds.users.length });
    const resident = ResidentExampleSet.upload(backbone, set);
    try {
      const [ranks] = await resident.evaluate([{ taskTokens: new Int32Array(0) }], { numBeams: 6, numReturnSequences: 6, maxLength: 8, earlyStopping: true });
      expect(Array.from(ranks!)).toEqual(expected);
    } finally {
      resident.dispose();
    }
  });
});
