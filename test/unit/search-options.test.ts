// Search options, state files and the small pure helpers of src/search.
import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAgainstVocabulary, parseLengths, resolveSearchOptions } from '../../src/search/options.js';
import { composeOutcomes, outcomeFromJson, outcomeToJson, rowsByUser } from '../../src/search/outcomes.js';
import { makeScorer } from '../../src/protocol/measure.js';
import { resumeOptions, variantSpecs } from '../../src/search/state.js';
import { lossOrder, meanLoss, poolSampleRows } from '../../src/search/pool.js';
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

describe('candidate pools (--pool B, --pool-rows)', () => {
  it('B = k (or none) is the paper: no pool fields; B > k brings its rows; bad pools fail by name', () => {
    for (const input of [{}, { pool: 5 }]) {
      const o = resolveSearchOptions({ task: 'sequential', ...input });
      expect(o.pool).toBeUndefined();
      expect(o.poolRows).toBeUndefined();
    }
    expect(resolveSearchOptions({ task: 'sequential', pool: 64 })).toMatchObject({ k: 5, pool: 64, poolRows: 256 });
    expect(resolveSearchOptions({ task: 'sequential', k: 3, pool: 8, poolRows: 40 })).toMatchObject({ k: 3, pool: 8, poolRows: 40 });
    expect(() => resolveSearchOptions({ task: 'sequential', pool: 4 })).toThrow(/pool B = 4 is smaller than k = 5/);
    expect(() => resolveSearchOptions({ task: 'sequential', pool: 2.5 })).toThrow(/pool must be an integer/);
    expect(() => resolveSearchOptions({ task: 'sequential', poolRows: 100 })).toThrow(/pool-rows needs a pool larger than k/);
    expect(() => resolveSearchOptions({ task: 'sequential', pool: 64, poolRows: 0 })).toThrow(/pool-rows must be an integer/);
    expect(() => checkAgainstVocabulary({ k: 5, pool: 50 }, { tokenizerVocab: 100, wordStarts: 50 })).toThrow(/pool B = 50 is larger/);
    expect(() => checkAgainstVocabulary({ k: 5, pool: 49 }, { tokenizerVocab: 100, wordStarts: 50 })).not.toThrow();
  });

  it('--resume takes the saved pool and refuses a changed one by name', () => {
    const saved = resolveSearchOptions({ task: 'sequential', pool: 64, poolRows: 100 });
    expect(resumeOptions(saved, { pool: 64 }, 'f')).toMatchObject({ pool: 64, poolRows: 100 });
    expect(resumeOptions(saved, { pool: 64, poolRows: 100 }, 'f')).toMatchObject({ pool: 64, poolRows: 100 });
    expect(() => resumeOptions(saved, { pool: 256 }, 'f')).toThrow(/--pool: saved 64, now 256/);
    expect(() => resumeOptions(saved, { pool: 5 }, 'f')).toThrow(/--pool: saved 64, now none/);
    expect(() => resumeOptions(saved, { poolRows: 50 }, 'f')).toThrow(/--pool-rows: saved 100, now 50/);
    const paper = resolveSearchOptions({ task: 'sequential' });
    expect(resumeOptions(paper, { pool: 5 }, 'f').pool).toBeUndefined();
    expect(() => resumeOptions(paper, { pool: 64 }, 'f')).toThrow(/--pool: saved none, now 64/);
  });

  it('samples pool rows round-robin over users, seeded; ranks candidates by loss, ties in gradient order', () => {
    const userIndex = Int32Array.from([0, 0, 0, 0, 1, 1, 2, 3, 3, 3]);
    const rows = poolSampleRows(userIndex, 4, 6, 7, 'np-l5');
    expect(rows).toEqual(poolSampleRows(userIndex, 4, 6, 7, 'np-l5'));
    expect(rows).toHaveLength(6);
    expect(new Set(rows).size).toBe(6);
    expect(Array.from(rows)).toEqual([...rows].sort((a, b) => a - b));
    const perUser = [0, 1, 2, 3].map((u) => Array.from(rows).filter((r) => userIndex[r] === u).length);
    expect(perUser.every((n) => n >= 1 && n <= 2)).toBe(true); // every user covered, then one more row per user per round
    expect(poolSampleRows(userIndex, 4, 3, 7, 'np-l5').length).toBe(3);
    expect(Array.from(poolSampleRows(userIndex, 4, 99, 7, 'np-l5'))).toEqual(Array.from(userIndex, (_, i) => i));
    const draws = new Set([1, 2, 3, 4, 5].map((seed) => Array.from(poolSampleRows(userIndex, 4, 5, seed, 'np-l5')).join(',')));
    expect(draws.size).toBeGreaterThan(1);
    expect(lossOrder([2, 1, 3, 1])).toEqual([1, 3, 0, 2]);
    expect(meanLoss(Float32Array.from([1, 2, 3, 6]))).toBe(3);
    expect(meanLoss(Float32Array.from([1, 2, 3, 6]), [1, 3])).toBe(4);
  });
});

describe('per-user acceptance (--user-accept)', () => {
  it('validation (or none) is the paper and leaves the field out; last-train needs --personalized; --resume refuses a change', () => {
    expect(resolveSearchOptions({ task: 'explanation', personalized: true }).userAccept).toBeUndefined();
    expect(resolveSearchOptions({ task: 'explanation', personalized: true, userAccept: 'validation' }).userAccept).toBeUndefined();
    const o = resolveSearchOptions({ task: 'explanation', personalized: true, userAccept: 'last-train' });
    expect(o.userAccept).toBe('last-train');
    expect(() => resolveSearchOptions({ task: 'explanation', userAccept: 'last-train' })).toThrow(/needs --personalized/);
    expect(() => resolveSearchOptions({ task: 'explanation', personalized: true, userAccept: 'margin' })).toThrow(/user-accept must be one of validation, last-train/);
    expect(resumeOptions(o, { userAccept: 'last-train' }, 'state.json').userAccept).toBe('last-train');
    expect(() => resumeOptions(o, { userAccept: 'validation' }, 'state.json')).toThrow(/--user-accept: saved "last-train", now none/);
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
