/**
 * The plots of a search folder: searches named for a reader, the kept prompt's test value at its kept epoch, the
 * best validation score against cumulative wall time (time.svg from history.jsonl), and deterministic files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSearchOptions } from '../../src/search/options.js';
import { initialVariantState, variantSpecs, type RunState } from '../../src/search/state.js';
import type { HistoryRecord } from '../../src/search/history.js';
import {
  buildReport,
  KEPT_TEST,
  runVariation,
  searchLabel,
  surrogateChart,
  surrogatePlot,
  timeSeries,
  writeReportFiles,
  type SearchResults,
} from '../../src/search/report.js';

function runState(criterion: 'surrogate' | 'loss' = 'surrogate', placement: 'suffix' | 'both' = 'suffix'): RunState {
  const options = resolveSearchOptions({ task: 'sequential', length: 5, personalized: true, k: 3, epochs: 4, beams: 5, criterion, placement });
  const variants = variantSpecs(options).map((spec) => initialVariantState(spec, { taskTokens: [5, 6, 7, 8, 9] }));
  variants.forEach((v, i) => {
    v.curve = [0, 1, 2, 3].map((epoch) => ({ epoch, score: 0.5 + 0.01 * i + 0.02 * Math.min(epoch, 2), best: 0 }));
    v.bestScore = 0.54 + 0.01 * i;
    v.bestEpoch = 2;
    v.startScore = 0.5;
    v.status = 'done';
  });
  return { version: 1, inputs: { data: '/d', model: '/m', tokenizer: '/t' }, options, variants, historyLength: 0, phase: 'done' };
}

const perUser = (hits: number) => Array.from({ length: 10 }, (_, i) => (i < hits ? 1 : 0));
const results: SearchResults = {
  task: 'sequential',
  prompts: [
    { kind: 'seen manual', runs: [1, 2].map((run) => ({ run, metrics: { 'HR@5': 0.2, 'NDCG@5': 0.1 }, perExample: { 'HR@5': perUser(2), 'NDCG@5': perUser(1) } })) },
    { kind: 'non-personalized', runs: [{ run: 1, metrics: { 'HR@5': 0.3, 'NDCG@5': 0.2 } }, { run: 2, metrics: { 'HR@5': 0.5, 'NDCG@5': 0.2 } }] },
    { kind: 'personalized', runs: [{ run: 1, metrics: { 'HR@5': 0.4, 'NDCG@5': 0.25 } }, { run: 2, metrics: { 'HR@5': 0.4, 'NDCG@5': 0.35 } }] },
  ],
};

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-search-plots-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tokenizer = { idToPiece: (id: number) => `▁t${id}` };

describe('search names for a reader', () => {
  it('non-personalized, l = 5 for np-l5; personalized, l = 5 for p-l5; the placement when placements vary', () => {
    const [np, p] = runState().variants.map((v) => v.spec);
    expect(np!.name).toBe('np-l5');
    expect(searchLabel(np!)).toBe('non-personalized, l = 5');
    expect(searchLabel(p!)).toBe('personalized, l = 5');
    expect(surrogateChart(runState('surrogate', 'both')).series.map((s) => s.name)).toEqual([
      'non-personalized, l = 5, suffix',
      'personalized, l = 5, suffix',
      'non-personalized, l = 5, prefix',
      'personalized, l = 5, prefix',
    ]);
  });
});

describe('surrogate.svg', () => {
  it('marks the test value of each kept prompt (HR@5 + NDCG@5, mean over runs) at its kept epoch', () => {
    const c = surrogateChart(runState(), results);
    expect(c.series.map((s) => s.name)).toEqual(['non-personalized, l = 5', 'personalized, l = 5']);
    expect(c.options.markers).toHaveLength(2);
    const [np, p] = c.options.markers!;
    expect(np).toMatchObject({ name: KEPT_TEST, series: 'non-personalized, l = 5', x: 2 });
    expect(np!.y).toBeCloseTo(0.4 + 0.2, 12);
    expect(p).toMatchObject({ series: 'personalized, l = 5', x: 2 });
    expect(p!.y).toBeCloseTo(0.4 + 0.3, 12);
    expect(c.options.title).toBe('PAP-REC search (sequential): validation surrogate (HR@5 + NDCG@5) per epoch');
  });

  it('has no marker before the test evaluation, nor for the loss criterion (no test counterpart)', () => {
    expect(surrogateChart(runState()).options.markers).toEqual([]);
    expect(surrogateChart(runState()).options.subtitle).toContain('appear once the test evaluation is done');
    const loss = surrogateChart(runState('loss'), results);
    expect(loss.options.markers).toEqual([]);
    expect(loss.options.subtitle).toContain('no test counterpart');
  });

  it('renders the title, every search name and the marker legend, with no NaN', async () => {
    const svg = await surrogatePlot(runState(), results);
    expect(svg).toMatch(/^<svg/);
    for (const s of ['PAP-REC search (sequential): validation surrogate', 'non-personalized, l = 5', 'personalized, l = 5', KEPT_TEST]) expect(svg).toContain(s);
    expect(svg).not.toContain('np-l5');
    expect(svg).not.toContain('NaN');
  });
});

describe('time.svg', () => {
  const rec = (search: string, kind: HistoryRecord['kind'], best: number, time: number): HistoryRecord => ({
    search, epoch: 0, kind, length: 5, placement: 'suffix', candidates: [], before: best, after: best, accepted: false, best, time,
  });
  const history = [rec('np-l5', 'start', 0.5, 2), rec('p-l5', 'start', 0.51, 3), rec('np-l5', 'task', 0.52, 1.5), rec('p-l5', 'user', 0.55, 4), rec('np-l5', 'task', 0.54, 2.5)];

  it('is the best score so far against the cumulative seconds of each search', () => {
    expect(timeSeries(runState(), history)).toEqual([
      { name: 'non-personalized, l = 5', points: [[2, 0.5], [3.5, 0.52], [6, 0.54]] },
      { name: 'personalized, l = 5', points: [[3, 0.51], [7, 0.55]] },
    ]);
    expect(timeSeries(runState(), [])).toEqual([]);
  });

  it('is written from the committed lines of history.jsonl, and every file is the same bytes when rebuilt', async () => {
    const dir = path.join(tmp, 'folder');
    const state = { ...runState(), historyLength: history.length - 1 };
    rmSync(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((f) => f.mkdir(dir, { recursive: true }));
    const written0 = await writeReportFiles(dir, state, tokenizer, results);
    expect(written0).not.toContain('time.svg'); // no history.jsonl: no timed rounds
    writeFileSync(path.join(dir, 'history.jsonl'), history.map((h) => `${JSON.stringify(h)}\n`).join(''));
    const written = await writeReportFiles(dir, state, tokenizer, results);
    expect(written).toEqual(['prompt.json', 'surrogate.svg', 'time.svg', 'report.json', 'report.md']);
    const time = readFileSync(path.join(dir, 'time.svg'), 'utf8');
    expect(time).toContain('best validation surrogate (HR@5 + NDCG@5) against wall time');
    expect(time).toContain('wall time (s, cumulative)');
    expect(time).not.toContain('NaN');
    // The uncommitted last line (np-l5 at 6 s) is left out: the x axis ends at 7 s, the personalized search's total.
    const chart = timeSeries(state, history.slice(0, state.historyLength));
    expect(chart[0]!.points).toHaveLength(2);
    const before = ['surrogate.svg', 'time.svg', 'report.md', 'report.json'].map((f) => readFileSync(path.join(dir, f)));
    await writeReportFiles(dir, state, tokenizer, results);
    const after = ['surrogate.svg', 'time.svg', 'report.md', 'report.json'].map((f) => readFileSync(path.join(dir, f)));
    expect(after).toEqual(before);
    expect(existsSync(path.join(dir, 'length.svg'))).toBe(false);
  });
});

describe('the search report says what differs between runs', () => {
  it('sequential runs differ by the history joiners; matching examples render the same in every run', () => {
    const { json, markdown } = buildReport(runState(), results);
    expect(json.variation).toBe(runVariation('sequential'));
    expect(markdown).toContain('runs differ by the rendering seed (seed + r - 1): the history joiners');
    expect(runVariation('matching')).toContain('renders no matching example differently');
    // The manual row's two runs gave the same per-user scores: one run, said so.
    expect(markdown).toContain('| seen manual (identical in every run) | 0.2000 | 0.1000 |');
    expect(json.rows[0]!.metrics['HR@5']!.n).toBe(1);
  });
});
