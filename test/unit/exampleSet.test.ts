import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, ExampleSet, Review, Tokenizer } from '../../src/types.js';
import { EOS_ID } from '../../src/types.js';
import { PaprecError } from '../../src/errors.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset } from '../../src/data/dataset.js';
import { computeStats } from '../../src/data/stats.js';
import {
  automatedPrompt,
  baselinePrompt,
  buildExampleSet,
  exampleTexts,
  manualPrompt,
  taskArgText,
} from '../../src/prompts/index.js';
import { subsetExampleSet } from '../../src/prompts/exampleSet.js';

const shared = (p: string) => fileURLToPath(new URL(`../../../shared/${p}`, import.meta.url));

let tok: Tokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(shared('data/t5/spiece.model'));
});

function tinyDataset(): Dataset {
  const users = [
    { id: 1, items: [1, 2, 3, 4] },
    { id: 2, items: [2, 3, 5] },
    { id: 3, items: [5, 4, 3, 2, 1] },
  ];
  const val: Review[] = [
    { user: 1, item: 2, rating: 5, explanation: 'smells great' },
    { user: 3, item: 4, rating: 3.0, explanation: 'too greasy for me' },
  ];
  return {
    dir: '<memory>',
    name: 'tiny',
    users,
    numItems: 5,
    negatives: [[5], [1, 4], []],
    titles: new Map([[2, 'Rose Oil']]),
    reviews: { train: [], val, test: [] },
    seed: 11,
    stats: () => computeStats(users),
  };
}

const row = (a: Int32Array, off: Int32Array, i: number) => Array.from(a.subarray(off[i]!, off[i + 1]!));

/** Invariants every example set keeps, whatever the prompt. */
function checkLayout(set: ExampleSet): void {
  const per = set.numTaskSlots + (set.hasUserSlot ? 1 : 0);
  expect(set.inputOffsets.length).toBe(set.size + 1);
  expect(set.targetOffsets.length).toBe(set.size + 1);
  expect(set.inputOffsets[set.size]).toBe(set.inputIds.length);
  expect(set.wholeWordIds.length).toBe(set.inputIds.length);
  expect(set.targetOffsets[set.size]).toBe(set.targetIds.length);
  expect(set.slotPositions.length).toBe(set.size * per);
  expect(set.userIndex.length).toBe(set.size);
  // count violations and assert once: one expect per row would dominate the run time on 22k rows
  const bad: string[] = [];
  for (let i = 0; i < set.size; i++) {
    const len = set.inputOffsets[i + 1]! - set.inputOffsets[i]!;
    if (set.inputIds[set.inputOffsets[i + 1]! - 1] !== EOS_ID) bad.push(`row ${i}: input does not end with </s>`);
    if (set.targetIds[set.targetOffsets[i + 1]! - 1] !== EOS_ID) bad.push(`row ${i}: target does not end with </s>`);
    for (let s = 0; s < per; s++) {
      const pos = set.slotPositions[i * per + s]!;
      if (!(pos >= 0 && pos < len - 1)) bad.push(`row ${i}: slot ${s} at ${pos} outside 0..${len - 2}`);
    }
    if (!(set.userIndex[i]! >= 0 && set.userIndex[i]! < set.numUsers)) bad.push(`row ${i}: user index ${set.userIndex[i]}`);
  }
  expect(bad.slice(0, 5)).toEqual([]);
}

describe('example sets on an in-memory dataset', () => {
  it('render a manual prompt with the whole-string ids, targets and users', () => {
    const ds = tinyDataset();
    const opts = { task: 'sequential', split: 'val', prompt: manualPrompt('2-3') } as const;
    const set = buildExampleSet(ds, tok, opts);
    checkLayout(set);
    expect(set.size).toBe(3);
    expect(set.numTaskSlots).toBe(0);
    expect(set.hasUserSlot).toBe(false);
    expect(Array.from(set.userIndex)).toEqual([0, 1, 2]);
    expect(set.numUsers).toBe(3);
    expect(set.references).toBeUndefined();
    const texts = exampleTexts(ds, tok, opts);
    for (let i = 0; i < set.size; i++) {
      const ids = row(set.inputIds, set.inputOffsets, i);
      expect(ids).toEqual(tok.encode(texts[i]!));
      expect(row(set.wholeWordIds, set.inputOffsets, i)).toEqual(tok.wholeWordIds(ids));
    }
    // val target = second-to-last item; history = the items before it
    expect(row(set.targetIds, set.targetOffsets, 0)).toEqual(tok.encode('3'));
    expect(tok.decode(row(set.targetIds, set.targetOffsets, 2))).toBe('2');
    expect(texts[0]).toMatch(/^Here is the purchase history list of user_1 : \n 1 (,|->) 2 \n try/);
  });

  it('record the slots of a personalized automated prompt, task slots first', () => {
    const ds = tinyDataset();
    const the = tok.pieceToId('▁the')!;
    const best = tok.pieceToId('▁best')!;
    const p = automatedPrompt(tok, { task: 'matching', taskTokens: [the, the, the], personalized: true, numUsers: 3 });
    const prompt = { ...p, userTokens: Int32Array.from([best, the, best]) };
    const set = buildExampleSet(ds, tok, { task: 'matching', split: 'test', prompt });
    checkLayout(set);
    expect(set.numTaskSlots).toBe(3);
    expect(set.hasUserSlot).toBe(true);
    for (let i = 0; i < set.size; i++) {
      const start = set.inputOffsets[i]!;
      const len = set.inputOffsets[i + 1]! - start;
      const pos = Array.from(set.slotPositions.subarray(i * 4, i * 4 + 4));
      expect(pos).toEqual([len - 5, len - 4, len - 3, len - 2]); // suffix, [T_u] at the end, then </s>
      expect(pos.map((q) => set.inputIds[start + q])).toEqual([the, the, the, prompt.userTokens[i]!]);
      const ww = pos.map((q) => set.wholeWordIds[start + q]!);
      expect(new Set(ww).size).toBe(4); // every slot is its own word
    }
    const text = exampleTexts(ds, tok, { task: 'matching', split: 'test', prompt, rows: [1] })[0]!;
    expect(text).toMatch(/^user_2 : \n [\d ,]+ \n \[▁the\]\[▁the\]\[▁the\]\[▁the\]$/);
    for (const item of [1, 4, 5]) expect(text).toContain(String(item)); // test target 5 and negatives 1, 4
  });

  it('render explanation with user and item ids, titles and references', () => {
    const ds = tinyDataset();
    const prompt = automatedPrompt(tok, { task: 'explanation', length: 2 });
    const set = buildExampleSet(ds, tok, { task: 'explanation', split: 'val', prompt });
    checkLayout(set);
    expect(set.references).toEqual(['smells great', 'too greasy for me']);
    expect(row(set.targetIds, set.targetOffsets, 1)).toEqual(tok.encode('too greasy for me'));
    const texts = exampleTexts(ds, tok, { task: 'explanation', split: 'val', prompt });
    expect(texts[0]).toBe('user_1 : item_2 : Rose Oil [▁][▁]');
    expect(texts[1]).toBe('user_3 : item_4 : item_4 [▁][▁]');
    const arg = tok.encode(taskArgText('explanation', { user: 1, item: 2, title: 'Rose Oil', joiner: ' , ' }), { addEos: false });
    expect(row(set.inputIds, set.inputOffsets, 0)).toEqual([...arg, prompt.defaultUserToken, prompt.defaultUserToken, EOS_ID]);
    const manual = buildExampleSet(ds, tok, { task: 'explanation', split: 'val', prompt: manualPrompt('3-12') });
    expect(tok.decode(row(manual.inputIds, manual.inputOffsets, 1))).toBe('Generate a 3-star explanation for user_3 about item_4');
  });

  it('cut a subset of rows that equals those rows of the whole set', () => {
    const ds = tinyDataset();
    const p = automatedPrompt(tok, { task: 'explanation', length: 2, personalized: true, numUsers: 3 });
    const set = buildExampleSet(ds, tok, { task: 'explanation', split: 'val', prompt: p });
    const rows = [1, 0, 1];
    const sub = subsetExampleSet(set, rows);
    checkLayout(sub);
    expect(sub.size).toBe(3);
    expect([sub.task, sub.split, sub.numTaskSlots, sub.hasUserSlot, sub.numUsers]).toEqual([set.task, set.split, set.numTaskSlots, set.hasUserSlot, set.numUsers]);
    const per = set.slotPositions.length / set.size;
    rows.forEach((r, i) => {
      expect(row(sub.inputIds, sub.inputOffsets, i)).toEqual(row(set.inputIds, set.inputOffsets, r));
      expect(row(sub.wholeWordIds, sub.inputOffsets, i)).toEqual(row(set.wholeWordIds, set.inputOffsets, r));
      expect(row(sub.targetIds, sub.targetOffsets, i)).toEqual(row(set.targetIds, set.targetOffsets, r));
      expect(Array.from(sub.slotPositions.subarray(i * per, (i + 1) * per))).toEqual(Array.from(set.slotPositions.subarray(r * per, (r + 1) * per)));
      expect(sub.userIndex[i]).toBe(set.userIndex[r]);
      expect(sub.references![i]).toBe(set.references![r]);
    });
    expect(subsetExampleSet(set, []).size).toBe(0);
    expect(() => subsetExampleSet(set, [2])).toThrow(/row 2 is outside 0..1/);
  });

  it('keep users 1..maxUsers and refuse mismatched options', () => {
    const ds = tinyDataset();
    const set = buildExampleSet(ds, tok, { task: 'sequential', split: 'train', prompt: manualPrompt('2-1'), maxUsers: 2 });
    checkLayout(set);
    expect(set.numUsers).toBe(2);
    expect(Array.from(set.userIndex)).toEqual([0]); // user 1 has one training window, user 2 none
    expect(() => buildExampleSet(ds, tok, { task: 'matching', split: 'val', prompt: manualPrompt('2-3') })).toThrow(PaprecError);
    const small = automatedPrompt(tok, { task: 'sequential', personalized: true, numUsers: 2 });
    expect(() => buildExampleSet(ds, tok, { task: 'sequential', split: 'val', prompt: small })).toThrow(/user table has 2/);
    expect(() => buildExampleSet(ds, tok, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3'), maxUsers: 0 })).toThrow(/maxUsers/);
    expect(() => exampleTexts(ds, tok, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3'), rows: [3] })).toThrow(/row 3/);
  });
});

describe('example sets on Beauty', () => {
  it('render all 22,363 validation examples, identically on every call', async () => {
    const ds = await loadDataset(shared('data/beauty'));
    const prompt = baselinePrompt({ task: 'sequential', kind: 'seen' });
    const set = buildExampleSet(ds, tok, { task: 'sequential', split: 'val', prompt });
    expect(set.size).toBe(22363);
    checkLayout(set);
    const again = buildExampleSet(ds, tok, { task: 'sequential', split: 'val', prompt });
    expect(again.inputIds).toEqual(set.inputIds);
    expect(again.targetIds).toEqual(set.targetIds);
    const texts = exampleTexts(ds, tok, { task: 'sequential', split: 'val', prompt, rows: [0, 5000, 22362] });
    for (const [k, i] of [0, 5000, 22362].entries()) expect(row(set.inputIds, set.inputOffsets, i)).toEqual(tok.encode(texts[k]!));
    // both joiners occur; the history holds at most 20 items
    const all = exampleTexts(ds, tok, { task: 'sequential', split: 'val', prompt, rows: Array.from({ length: 400 }, (_, i) => i) });
    expect(all.some((t) => t.includes(' -> '))).toBe(true);
    expect(all.some((t) => / \d+ , \d+ /.test(t))).toBe(true);

    const auto = automatedPrompt(tok, { task: 'sequential', personalized: true, numUsers: ds.users.length });
    const aset = buildExampleSet(ds, tok, { task: 'sequential', split: 'val', prompt: auto });
    checkLayout(aset);
    expect(aset.numUsers).toBe(22363);
    expect(aset.targetIds).toEqual(set.targetIds);
  });

  it('render matching with 100 candidates that hold the target, and refuse explanation without reviews', async () => {
    const ds = await loadDataset(shared('data/beauty'), { maxUsers: 300 });
    const prompt = manualPrompt('5-7');
    const set = buildExampleSet(ds, tok, { task: 'matching', split: 'test', prompt });
    checkLayout(set);
    const texts = exampleTexts(ds, tok, { task: 'matching', split: 'test', prompt });
    for (let i = 0; i < set.size; i++) {
      const items = texts[i]!.split(' : \n ')[1]!.split(' , ');
      expect(items.length).toBe(100);
      expect(items).toContain(tok.decode(row(set.targetIds, set.targetOffsets, i)));
    }
    expect(() => buildExampleSet(ds, tok, { task: 'explanation', split: 'val', prompt: manualPrompt('3-1') })).toThrow(
      /no explanation data/,
    );
  });
});
