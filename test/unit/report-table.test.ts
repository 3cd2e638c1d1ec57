import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportJson, reportMarkdown, writeReport, type ReportInput } from '../../src/report/index.js';
import { PaprecError } from '../../src/errors.js';

const runs = (values: number[][], names = ['HR@5', 'NDCG@5']) =>
  values[0]!.map((_, r) => ({ run: r + 1, metrics: Object.fromEntries(names.map((n, k) => [n, values[k]![r]!])) }));

/**
 * Hand-computed case. HR@5 per run:
 *   seen manual      0.10 0.12 0.11  mean 0.11, std 0.01
 *   unseen manual    0.08 0.09 0.07  mean 0.08, std 0.01   d vs seen = -0.02 -0.03 -0.04: t = -3 sqrt(3), df 2
 *   personalized     0.15 0.18 0.18  mean 0.17, std sqrt(0.0003) = 0.0173   d = 0.05 0.06 0.07: t = 6 sqrt(3)
 *   non-personalized 0.12 0.11 0.13  mean 0.12, std 0.01   d = 0.02 -0.01 0.02: mean 0.01, sd sqrt(0.0003)
 * df 2: p = 1 - t / sqrt(2 + t^2): unseen 0.0351 (*), personalized 0.0091 (*), non-personalized 0.4950.
 * NDCG@5 makes the unseen manual prompt (0.08 every run) the best manual one, so that column tests against it:
 * seen d = -0.03 -0.02 -0.01 (t = -2 sqrt(3), p 0.074), personalized d = 0.02 0.03 0.04 (t = 3 sqrt(3), p 0.035 *).
 */
const input: ReportInput = {
  title: 'Sequential recommendation (demo)',
  task: 'sequential',
  prompts: [
    { kind: 'seen manual', runs: runs([[0.1, 0.12, 0.11], [0.05, 0.06, 0.07]]) },
    { kind: 'unseen manual', runs: runs([[0.08, 0.09, 0.07], [0.08, 0.08, 0.08]]) },
    { kind: 'non-personalized', runs: runs([[0.12, 0.11, 0.13], [0.07, 0.09, 0.08]]) },
    { kind: 'personalized', runs: runs([[0.15, 0.18, 0.18], [0.1, 0.11, 0.12]]) },
  ],
};

const p2 = (t: number) => 1 - Math.abs(t) / Math.sqrt(2 + t * t);

describe('reportJson', () => {
  const rep = reportJson(input);

  it('summarizes each row: mean, sample std, n, per-run values', () => {
    expect(rep.metrics).toEqual(['HR@5', 'NDCG@5']);
    expect(rep.split).toBe('test');
    expect(rep.alpha).toBe(0.05);
    const pers = rep.rows[3]!.metrics['HR@5']!;
    expect(pers.mean).toBeCloseTo(0.17, 12);
    expect(pers.std).toBeCloseTo(Math.sqrt(0.0003), 12);
    expect(pers.n).toBe(3);
    expect(pers.values).toEqual([0.15, 0.18, 0.18]);
    expect(pers.runs).toEqual([1, 2, 3]);
    expect(rep.rows.map((r) => r.manual)).toEqual([true, true, false, false]);
  });

  it('tests every row against the best manual prompt of each metric, paired over runs', () => {
    expect(rep.reference).toEqual({ 'HR@5': 'seen manual', 'NDCG@5': 'unseen manual' });
    const hr = (i: number) => rep.rows[i]!.metrics['HR@5']!;
    expect(hr(0).test).toBeNull(); // the reference itself
    expect(hr(1).test!.p).toBeCloseTo(p2(-3 * Math.sqrt(3)), 8);
    expect(hr(1).test).toMatchObject({ against: 'seen manual', pairing: 'runs', df: 2, n: 3, significant: true });
    expect(hr(3).test!.t).toBeCloseTo(6 * Math.sqrt(3), 8);
    expect(hr(3).test!.p).toBeCloseTo(p2(6 * Math.sqrt(3)), 8);
    expect(hr(3).test!.significant).toBe(true);
    const tNon = 0.01 / (Math.sqrt(0.0003) / Math.sqrt(3));
    expect(hr(2).test!.p).toBeCloseTo(p2(tNon), 8);
    expect(hr(2).test!.significant).toBe(false);
    expect(rep.rows[0]!.metrics['NDCG@5']!.test!.against).toBe('unseen manual');
    expect(rep.rows[1]!.metrics['NDCG@5']!.test).toBeNull();
  });

  it('marks the best mean of each column', () => {
    expect(rep.rows.map((r) => r.metrics['HR@5']!.best)).toEqual([false, false, false, true]);
    expect(rep.rows.map((r) => r.metrics['NDCG@5']!.best)).toEqual([false, false, false, true]);
    const low = reportJson({ ...input, lowerIsBetter: ['HR@5'] });
    expect(low.rows.map((r) => r.metrics['HR@5']!.best)).toEqual([false, true, false, false]);
    expect(low.reference['HR@5']).toBe('unseen manual');
  });

  it('pairs per-example scores, averaged over runs, when both rows have them', () => {
    // Per-user HR@5 hits, two runs; the means per example are what the test pairs.
    const ref = [[1, 0, 0, 1, 0, 0, 1, 0], [1, 0, 0, 1, 0, 0, 0, 0]];
    const auto = [[1, 1, 0, 1, 1, 0, 1, 1], [1, 1, 0, 1, 1, 0, 1, 0]];
    const row = (kind: string, hits: number[][]) => ({
      kind,
      runs: hits.map((h, r) => ({ run: r + 1, metrics: { 'HR@5': h.reduce((a, b) => a + b, 0) / h.length }, perExample: { 'HR@5': h } })),
    });
    const rep2 = reportJson({ prompts: [row('seen manual', ref), row('personalized', auto)] });
    const test = rep2.rows[1]!.metrics['HR@5']!.test!;
    expect(test.pairing).toBe('examples');
    expect(test.n).toBe(8);
    // d per example: mean over runs of auto - ref = [0, 1, 0, 0, 1, 0, 0.5, 0.5]: mean 0.375, sd by hand.
    const d = [0, 1, 0, 0, 1, 0, 0.5, 0.5];
    const md = 0.375;
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - md) ** 2, 0) / 7);
    expect(test.t).toBeCloseTo(md / (sd / Math.sqrt(8)), 10);
    expect(test.df).toBe(7);
    // Without per-example scores on one side, the same rows pair over the two runs instead.
    const noEx = reportJson({ prompts: [{ kind: 'seen manual', runs: row('x', ref).runs.map(({ run, metrics }) => ({ run, metrics })) }, row('personalized', auto)] });
    expect(noEx.rows[1]!.metrics['HR@5']!.test).toMatchObject({ pairing: 'runs', n: 2 });
  });

  it('rejects duplicate rows and runs with a clear message', () => {
    expect(() => reportJson({ prompts: [input.prompts[0]!, input.prompts[0]!] })).toThrow(PaprecError);
    expect(() => reportJson({ prompts: [{ kind: 'x', runs: [{ run: 1, metrics: {} }, { run: 1, metrics: {} }] }] })).toThrow(/run 1 appears twice/);
  });
});

describe('reportMarkdown', () => {
  it('writes the paper table: mean ± std, best in bold, * for p < 0.05, and the pairing note', () => {
    const md = reportMarkdown(input);
    const lines = md.split('\n');
    expect(lines[0]).toBe('### Sequential recommendation (demo)');
    expect(lines[2]).toBe('| prompt | HR@5 | NDCG@5 |');
    expect(lines[3]).toBe('|---|---:|---:|');
    expect(lines[4]).toBe('| seen manual | 0.1100 ± 0.0100 | 0.0600 ± 0.0100 |');
    expect(lines[5]).toBe('| unseen manual | 0.0800 ± 0.0100 * | 0.0800 ± 0.0000 |');
    expect(lines[6]).toBe('| non-personalized | 0.1200 ± 0.0100 | 0.0800 ± 0.0100 |');
    expect(lines[7]).toBe('| personalized | **0.1700 ± 0.0173** * | **0.1100 ± 0.0100** * |');
    expect(md).toContain('Mean ± sample standard deviation over 3 runs (sequential, test split)');
    expect(md).toContain('paired two-sided t-test against the best manual prompt of the column (seen manual / unseen manual); HR@5, NDCG@5 (no per-example score) pair runs (n = 3).');
  });

  it('rebuilds the same table from report.json read back', () => {
    const back = JSON.parse(JSON.stringify(reportJson(input)));
    expect(reportMarkdown(back)).toBe(reportMarkdown(input));
    expect(reportMarkdown(input, { digits: 2 }).split('\n')[4]).toBe('| seen manual | 0.11 ± 0.01 | 0.06 ± 0.01 |');
  });

  it('shows missing metrics as a dash and escapes pipes in names', () => {
    const md = reportMarkdown({
      metrics: ['HR@5', 'BLEU-4'],
      prompts: [
        { kind: 'seen manual', runs: [{ run: 1, metrics: { 'HR@5': 0.5 } }] },
        { kind: 'a|b', runs: [{ run: 1, metrics: { 'HR@5': 0.25, 'BLEU-4': 1.5 } }] },
      ],
    });
    expect(md).toContain('| seen manual | **0.5000** | – |'); // one run: no ± 0.0000
    expect(md).toContain('| a\\|b | 0.2500 | **1.5000** |');
    expect(md).toContain('HR@5 (no per-example score): no test is run with a single run');
    expect(md).toContain('over 1 run (test split)');
  });
});

describe('writeReport', () => {
  it('writes report.json, report.md and the plots, and report.md rebuilds from report.json', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'paprec-report-'));
    try {
      const out = await writeReport(dir, input, {
        plots: [{ file: 'surrogate.svg', series: [{ name: 'personalized', points: [[1, 0.1], [2, 0.2]] }], options: { title: 't', xLabel: 'epoch', yLabel: 'surrogate' } }],
      });
      expect(out.files.map((f) => path.basename(f))).toEqual(['report.json', 'report.md', 'surrogate.svg']);
      const back = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
      expect(reportMarkdown(back)).toBe(readFileSync(path.join(dir, 'report.md'), 'utf8'));
      expect(readFileSync(path.join(dir, 'surrogate.svg'), 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*personalized[\s\S]*<\/svg>\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
