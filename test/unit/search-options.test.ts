// Search options, state files and the small pure helpers of src/search.
import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAgainstVocabulary, parseLengths, resolveSearchOptions } from '../../src/search/options.js';
import { composeOutcomes, outcomeFromJson, outcomeToJson, rowsByUser } from '../../src/search/outcomes.js';
import { makeScorer } from '../../src/protocol/measure.js';
import { variantSpecs } from '../../src/search/state.js';
import { appendHistory, readHistory, truncateHistory, type HistoryRecord } from '../../src/search/history.js';

describe('search options', () => {
  it('fills the paper defaults', () => {
    const o = resolveSearchOptions({ task: 'sequential' });
    expect(o).toMatchObject({ lengths: [5, 6], k: 5, beams: 5, epochs: 50, alphaSeq: 1, alphaExp: 0.1, criterion: 'surrogate', placements: ['suffix'], runs: 5, maxLength: 50, device: 'auto' });
    expect(o.testBeams).toBeUndefined(); // the test protocol's 20
    expect(resolveSearchOptions({ task: 'sequential', testBeams: 3 }).testBeams).toBe(3);
    expect(resolveSearchOptions({ task: 'sequential', personalized: true }).lengths).toEqual([5]);
    expect(parseLengths('3,4,5,6,7', false)).toEqual({ lengths: [3, 4, 5, 6, 7], sweep: true });
    expect(resolveSearchOptions({ task: 'matching', placement: 'both' }).placements).toEqual(['suffix', 'prefix']);
  });
  it('rejects bad options with a message', () => {
    expect(() => resolveSearchOptions({ task: 'rating' })).toThrow(/unknown task "rating"/);
    expect(() => resolveSearchOptions({ task: 'sequential', length: 0 })).toThrow(/length l must be an integer in 1..64, got 0/);
    expect(() => resolveSearchOptions({ task: 'sequential', length: '3,x' })).toThrow(/length l/);
    expect(() => resolveSearchOptions({ task: 'sequential', length: '5,5' })).toThrow(/repeats/);
    expect(() => resolveSearchOptions({ task: 'sequential', k: 0 })).toThrow(/k must be/);
    expect(() => resolveSearchOptions({ task: 'sequential', criterion: 'bleu' })).toThrow(/criterion/);
    expect(() => checkAgainstVocabulary({ k: 5 }, { tokenizerVocab: 100, modelVocab: 90, wordStarts: 50 })).toThrow(/vocabulary size 90 is smaller than the tokenizer's 100/);
    // extra model rows (T5 v1.1: 32,128 rows, 32,100 pieces) are accepted
    expect(() => checkAgainstVocabulary({ k: 5 }, { tokenizerVocab: 32100, modelVocab: 32128, wordStarts: 50 })).not.toThrow();
    expect(() => checkAgainstVocabulary({ k: 50 }, { tokenizerVocab: 100, wordStarts: 50 })).toThrow(/k = 50 is larger/);
    expect(() => checkAgainstVocabulary({ k: 49 }, { tokenizerVocab: 100, modelVocab: 100, wordStarts: 50 })).not.toThrow();
  });
  it('plans one search per length and placement, plus the personalized one', () => {
    const specs = variantSpecs(resolveSearchOptions({ task: 'sequential', personalized: true, length: '4,5' }));
    expect(specs.map((s) => [s.name, s.length, s.personalized])).toEqual([['np-l4', 4, false], ['np-l5', 5, false], ['p-l5', 5, true]]);
  });
});

describe('scoring helpers', () => {
  it('surrogate = HR@5 + alpha NDCG@5 on the chosen rows; loss criterion = -mean loss', () => {
    const s = makeScorer('sequential', 'surrogate', { alphaSeq: 1, alphaExp: 0.1 });
    const ranks = { kind: 'ranks' as const, ranks: Int32Array.from([1, 0, 3, 7]) };
    expect(s.score(ranks)).toBeCloseTo((2 / 4) + (1 + 0.5) / 4, 12);
    expect(s.score(ranks, [0])).toBe(2);
    const l = makeScorer('sequential', 'loss', { alphaSeq: 1, alphaExp: 0.1 });
    expect(l.score({ kind: 'loss', loss: Float32Array.from([1, 3]) })).toBe(-2);
  });
  it('composes outcomes row by row and round-trips through JSON', () => {
    const a = { kind: 'ranks' as const, ranks: Int32Array.from([1, 2, 3, 4]) };
    const b = { kind: 'ranks' as const, ranks: Int32Array.from([9, 9, 9, 9]) };
    const c = composeOutcomes(a, b, [1, 3]);
    expect(Array.from((c as typeof a).ranks)).toEqual([1, 9, 3, 9]);
    expect(Array.from(a.ranks)).toEqual([1, 2, 3, 4]);
    expect(outcomeFromJson(outcomeToJson(c), 'x')).toEqual(c);
    expect(rowsByUser(Int32Array.from([1, 0, 1, 2]), 4).map((r) => Array.from(r))).toEqual([[1], [0, 2], [3], []]);
  });
});

describe('history.jsonl', () => {
  it('truncates to the committed rounds and ignores a torn last line', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-history-'));
    const file = path.join(dir, 'history.jsonl');
    const rec = (epoch: number): HistoryRecord => ({ search: 's', epoch, kind: 'task', length: 5, placement: 'suffix', candidates: [], before: 0, after: 0, accepted: false, best: 0, time: 0 });
    for (let e = 0; e < 4; e++) await appendHistory(file, rec(e));
    await fsp.appendFile(file, '{"search":"s","ep');
    expect((await readHistory(file)).map((r) => r.epoch)).toEqual([0, 1, 2, 3]);
    await truncateHistory(file, 2);
    expect((await readHistory(file)).map((r) => r.epoch)).toEqual([0, 1]);
    await fsp.rm(dir, { recursive: true });
  });
});
