/**
 * Variation that is real: identical runs reported as one run, the paired bootstrap over users, and stars from the
 * paired test over users (runs only where no per-example score exists, none with a single run).
 */
import { describe, expect, it } from 'vitest';
import { pairedBootstrap, quantile } from '../../src/report/bootstrap.js';
import { reportJson, reportMarkdown, pairedTTest, type PromptResult, type ReportInput } from '../../src/report/index.js';
import { Rng } from '../../src/data/rng.js';

const ones = (n: number, at: (i: number) => number) => Array.from({ length: n }, (_, i) => at(i));
const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** A row whose `runs` runs all score `hr` per user, with BLEU-4 `bleu` (no per-example score). */
function row(kind: string, perRun: number[][], bleu: number[] = perRun.map(() => 1)): PromptResult {
  return {
    kind,
    runs: perRun.map((hr, r) => ({ run: r + 1, metrics: { 'HR@5': mean(hr), 'BLEU-4': bleu[r]! }, perExample: { 'HR@5': hr } })),
  };
}

describe('pairedBootstrap', () => {
  it('quantile interpolates between order statistics (type 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });

  it('a constant difference gives the point interval [c, c]', () => {
    const b = ones(50, (i) => (i % 3) / 3);
    const a = b.map((x) => x + 0.25);
    const iv = pairedBootstrap(a, b)!;
    expect(iv.difference).toBeCloseTo(0.25, 12);
    expect(iv.lo).toBeCloseTo(0.25, 12);
    expect(iv.hi).toBeCloseTo(0.25, 12);
    expect(iv).toMatchObject({ level: 0.95, resamples: 1000, seed: 2022, n: 50 });
  });

  it('four users with d = 1, 0, 1, 0: the interval is [0, 1] (a resample of all zeros has probability 1/16 > 2.5%)', () => {
    const iv = pairedBootstrap([1, 0, 1, 0], [0, 0, 0, 0])!;
    expect(iv.difference).toBe(0.5);
    expect(iv.lo).toBe(0);
    expect(iv.hi).toBe(1);
  });

  it('contains the true difference and is about +-1.96 standard errors wide', () => {
    const rng = new Rng(7);
    const n = 400;
    const b = ones(n, () => (rng.next() < 0.3 ? 1 : 0));
    const a = b.map((x) => x + 0.1 + (rng.next() - 0.5)); // d = 0.1 + U(-0.5, 0.5): true mean 0.1, sd 1/sqrt(12)
    const iv = pairedBootstrap(a, b, { resamples: 2000 })!;
    expect(iv.lo).toBeLessThan(0.1);
    expect(iv.hi).toBeGreaterThan(0.1);
    const se = 1 / Math.sqrt(12) / Math.sqrt(n);
    expect((iv.hi - iv.lo) / (2 * 1.96 * se)).toBeGreaterThan(0.85);
    expect((iv.hi - iv.lo) / (2 * 1.96 * se)).toBeLessThan(1.15);
  });

  it('covers the true difference in about 95% of repeated samples', () => {
    const rng = new Rng(11);
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      // Users hit (1) or miss (0) under each prompt: P(a) = 0.4, P(b) = 0.3, independent: true difference 0.1.
      const a = ones(100, () => (rng.next() < 0.4 ? 1 : 0));
      const b = ones(100, () => (rng.next() < 0.3 ? 1 : 0));
      const iv = pairedBootstrap(a, b, { seed: t })!;
      if (iv.lo <= 0.1 && 0.1 <= iv.hi) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.89);
    expect(covered / trials).toBeLessThan(0.99);
  });

  it('is deterministic in its seed', () => {
    const a = ones(30, (i) => (i * 7) % 5);
    const b = ones(30, (i) => (i * 3) % 4);
    expect(pairedBootstrap(a, b, { seed: 5 })).toEqual(pairedBootstrap(a, b, { seed: 5 }));
    expect(pairedBootstrap(a, b, { seed: 5 })!.lo).not.toBe(pairedBootstrap(a, b, { seed: 6 })!.lo);
    expect(pairedBootstrap([], [])).toBeNull();
    expect(() => pairedBootstrap([1], [1, 2])).toThrow(RangeError);
  });
});

describe('rows whose runs are identical', () => {
  const hr = ones(10, (i) => (i < 4 ? 1 : 0));
  const input: ReportInput = {
    task: 'matching',
    variation: 'runs differ by the rendering seed, which matching examples do not use',
    prompts: [
      row('seen manual', [hr, hr, hr], [2.5, 2.5, 2.5]),
      row('non-personalized', [hr.map((x, i) => (i === 9 ? 1 : x)), hr, hr.map((x, i) => (i === 8 ? 1 : x))], [3, 2, 4]),
    ],
  };
  const rep = reportJson(input);

  it('are one run in report.json (n = 1, std 0), with the runs measured kept', () => {
    const seen = rep.rows[0]!;
    expect(seen).toMatchObject({ identical: true, runsMeasured: 3, variation: input.variation });
    expect(seen.metrics['HR@5']).toMatchObject({ mean: 0.4, std: 0, n: 1, values: [0.4], runs: [1] });
    expect(seen.metrics['BLEU-4']).toMatchObject({ mean: 2.5, n: 1, values: [2.5] });
    const np = rep.rows[1]!;
    expect(np).toMatchObject({ identical: false, runsMeasured: 3 });
    expect(np.metrics['HR@5']!.n).toBe(3);
    expect(np.metrics['HR@5']!.std).toBeCloseTo(Math.sqrt(0.01 / 3), 12); // 0.5 0.4 0.5
    expect(rep.variation).toBe(input.variation);
  });

  it('show no ± in the Markdown and say "identical in every run"; rows that differ keep mean ± std', () => {
    const md = reportMarkdown(input);
    expect(md).toContain('| seen manual (identical in every run) | 0.4000 | 2.5000 |');
    expect(md).toContain('| non-personalized | **0.4667 ± 0.0577** | **3.0000 ± 1.0000** |');
    expect(md).toContain('Mean ± sample standard deviation over 3 runs (matching, test split; runs differ by the rendering seed, which matching examples do not use)');
    expect(md).toContain('Rows marked "identical in every run" were so: the same per-example scores in each of the 3 runs measured');
    expect(md).not.toContain('± 0.0000');
  });

  it('need per-example scores: equal run values alone do not make a row one run', () => {
    const r = reportJson({ prompts: [{ kind: 'seen manual', runs: [1, 2].map((run) => ({ run, metrics: { 'HR@5': 0.5 } })) }] });
    expect(r.rows[0]).toMatchObject({ identical: false });
    expect(r.rows[0]!.metrics['HR@5']!.n).toBe(2);
    const one = reportJson({ prompts: [row('seen manual', [hr, hr.map((x, i) => (i === 0 ? 0 : x))])] });
    expect(one.rows[0]!.identical).toBe(false);
  });

  it('every row identical: "One run per row"', () => {
    const md = reportMarkdown({ prompts: [row('seen manual', [hr, hr]), row('personalized', [hr, hr])] });
    expect(md).toContain('One run per row (test split); bold: best in the column. Every row was identical in every run');
  });
});

describe('stars from the paired test over users', () => {
  // 100 users, two runs. "weak" beats the manual prompt on 10 users and loses on 8 (d mean 0.02): across users that
  // is noise (p ~ 0.64), though each run's HR@5 differs by exactly 0.02, which a test over runs would call certain.
  // "strong" wins on 30 users and loses on 5 (d mean 0.25).
  const n = 100;
  const ref = ones(n, (i) => (i >= 50 && i < 70 ? 1 : 0));
  const weak = ref.map((x, i) => (i < 10 ? 1 : i >= 50 && i < 58 ? 0 : x));
  const strong = ref.map((x, i) => (i < 30 ? 1 : i >= 50 && i < 55 ? 0 : x));
  const input: ReportInput = {
    task: 'sequential',
    prompts: [row('seen manual', [ref, ref], [5, 5]), row('weak', [weak, weak], [6, 6]), row('strong', [strong, strong], [7, 8])],
  };
  const rep = reportJson(input);

  it('pair users (n = 100) whenever both rows have per-example scores', () => {
    const w = rep.rows[1]!.metrics['HR@5']!.test!;
    const expected = pairedTTest(weak, ref)!;
    expect(w).toMatchObject({ against: 'seen manual', pairing: 'examples', n: 100, df: 99, significant: false });
    expect(w.p).toBeCloseTo(expected.p, 12);
    expect(w.p).toBeGreaterThan(0.5);
    const s = rep.rows[2]!.metrics['HR@5']!.test!;
    expect(s).toMatchObject({ pairing: 'examples', n: 100, significant: true });
    expect(s.p).toBeCloseTo(pairedTTest(strong, ref)!.p, 12);
  });

  it('BLEU-4 has no per-example score: runs are paired, and two identical rows are one run, so no test', () => {
    expect(rep.rows[1]!.metrics['BLEU-4']!.test).toBeNull(); // weak and the reference: both identical in every run
    const s = rep.rows[2]!.metrics['BLEU-4']!.test!; // strong differs between runs (7, 8): paired over 2 runs
    expect(s).toMatchObject({ pairing: 'runs', n: 2 });
    expect(rep.rows[2]!.metrics['BLEU-4']!.interval).toBeNull();
  });

  it('the Markdown stars strong, not weak, and says how each column was tested', () => {
    const md = reportMarkdown(input);
    expect(md).toContain('| weak (identical in every run) | 0.2200 | 6.0000 |');
    expect(md).toMatch(/\| strong \| \*\*0\.4500 ± 0\.0000\*\* \* \| \*\*7\.5000 ± 0\.7071\*\* \|/);
    expect(md).toContain('HR@5 pair users (each example\'s score averaged over the runs, n = 100)');
    expect(md).toContain('BLEU-4 (no per-example score, a corpus statistic) pair runs (n = 2)');
  });

  it('puts the bootstrap interval of row - best manual prompt in report.json and a table of the Markdown', () => {
    const iv = rep.rows[2]!.metrics['HR@5']!.interval!;
    expect(iv).toMatchObject({ against: 'seen manual', n: 100, resamples: 1000, level: 0.95 });
    expect(iv.difference).toBeCloseTo(0.25, 12);
    expect(iv.lo).toBeLessThan(0.25);
    expect(iv.hi).toBeGreaterThan(0.25);
    expect(iv.lo).toBeGreaterThan(0); // strong: the interval excludes 0, as its star says
    const wiv = rep.rows[1]!.metrics['HR@5']!.interval!;
    expect(wiv.lo).toBeLessThan(0);
    expect(wiv.hi).toBeGreaterThan(0);
    expect(rep.rows[0]!.metrics['HR@5']!.interval).toBeNull();
    expect(rep.bootstrap).toEqual({ resamples: 1000, seed: 2022, level: 0.95 });
    const md = reportMarkdown(input);
    expect(md).toContain('95% paired bootstrap interval over users (100 examples resampled with replacement, 1,000 resamples, seed 2022)');
    const f = (x: number) => (x >= 0 ? `+${x.toFixed(4)}` : x.toFixed(4));
    expect(md).toContain(`| strong | ${f(0.25)} [${f(iv.lo)}, ${f(iv.hi)}] |`);
    expect(reportMarkdown(JSON.parse(JSON.stringify(rep)))).toBe(md);
  });
});

describe('the note with only the reference row', () => {
  it('names the test without a dangling list', () => {
    const md = reportMarkdown({ prompts: [row('seen manual', [[1, 0], [0, 1]])] });
    expect(md).toContain('against the best manual prompt of the column (seen manual).');
  });
});
