/**
 * reportJson: the numbers of the paper's table. Per row and metric: mean, sample std, n, the per-run values, a
 * paired two-sided t-test against the best manual prompt of that metric, and a paired bootstrap interval of the
 * difference from it.
 *
 * Runs: a row whose runs all gave identical per-example scores (and metric values) is one run: nothing differed,
 * so n = 1 and no std is claimed.
 *
 * Pairing (the stars): when both rows carry per-example scores for the metric in every run they share (same
 * length), each example's score is averaged over those runs and the test pairs examples (users; n = number of
 * examples, as in the paper's per-user comparisons). Otherwise (BLEU-4 is a corpus statistic with no per-example
 * score) it pairs the per-run metric values by run number (n = shared runs; two identical rows count one run, so no
 * test is run). The bootstrap resamples the same per-example pairs and is absent where they are.
 */
import { fail } from '../errors.js';
import { BOOTSTRAP_LEVEL, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, pairedBootstrap, type BootstrapOptions } from './bootstrap.js';
import { mean, pairedTTest, sampleStd } from './stats.js';
import type {
  MetricSummary,
  Pairing,
  PromptResult,
  ReportInput,
  ReportJson,
  ReportRow,
  RunResult,
  SignificanceTest,
} from './types.js';

const WHERE = 'report';

function isManual(p: PromptResult): boolean {
  return p.manual ?? /manual$/i.test(p.kind.trim());
}

function metricOrder(input: ReportInput): string[] {
  if (input.metrics) return [...input.metrics];
  const names: string[] = [];
  for (const p of input.prompts) for (const r of p.runs) for (const k of Object.keys(r.metrics)) if (!names.includes(k)) names.push(k);
  return names;
}

function validate(input: ReportInput): void {
  const kinds = new Set<string>();
  for (const p of input.prompts) {
    if (kinds.has(p.kind)) fail(WHERE, `prompt kind "${p.kind}" appears twice; each row needs its own name`);
    kinds.add(p.kind);
    const runs = new Set<number>();
    for (const r of p.runs) {
      if (!Number.isInteger(r.run)) fail(`${WHERE}: ${p.kind}`, `run number must be an integer, got ${r.run}`);
      if (runs.has(r.run)) fail(`${WHERE}: ${p.kind}`, `run ${r.run} appears twice`);
      runs.add(r.run);
    }
  }
  const alpha = input.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) fail(WHERE, `alpha must be in (0, 1), got ${alpha}`);
}

function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/** Two or more runs, each with per-example scores, and every run's scores and values equal to the first's. */
export function identicalRuns(p: PromptResult, metrics: readonly string[]): boolean {
  const [first, ...rest] = p.runs;
  if (!first || rest.length === 0) return false;
  if (!metrics.some((m) => p.runs.every((r) => (r.perExample?.[m]?.length ?? 0) > 0))) return false;
  return rest.every((r) =>
    metrics.every((m) => Object.is(r.metrics[m], first.metrics[m]) && sameNumbers(r.perExample?.[m], first.perExample?.[m])),
  );
}

/** The runs a row reports: the first alone when all were identical. */
function reportedRuns(p: PromptResult, identical: boolean): readonly RunResult[] {
  if (!identical) return p.runs;
  const first = [...p.runs].sort((a, b) => a.run - b.run)[0];
  return first ? [first] : [];
}

function valuesOf(p: Pick<PromptResult, 'runs'>, metric: string): { runs: number[]; values: number[] } {
  const sorted = [...p.runs].sort((a, b) => a.run - b.run);
  const runs: number[] = [];
  const values: number[] = [];
  for (const r of sorted) {
    const v = r.metrics[metric];
    if (typeof v === 'number' && Number.isFinite(v)) {
      runs.push(r.run);
      values.push(v);
    }
  }
  return { runs, values };
}

/** Per-example scores averaged over `runs`, or null unless every one of those runs has them with one length. */
function exampleMeans(p: PromptResult, metric: string, runs: readonly number[]): number[] | null {
  let sum: number[] | null = null;
  for (const run of runs) {
    const r = p.runs.find((x: RunResult) => x.run === run);
    const xs = r?.perExample?.[metric];
    if (!xs || xs.length === 0) return null;
    if (sum === null) sum = new Array<number>(xs.length).fill(0);
    else if (sum.length !== xs.length) return null;
    for (let i = 0; i < xs.length; i++) sum[i] = (sum[i] as number) + (xs[i] as number);
  }
  return sum === null ? null : sum.map((s) => s / runs.length);
}

interface Compared {
  row: PromptResult;
  ref: PromptResult;
  /** Both rows identical in every run: their shared runs are one. */
  bothIdentical: boolean;
}

function sharedRuns(c: Compared, metric: string): number[] {
  const b = valuesOf(c.ref, metric).runs;
  return valuesOf(c.row, metric).runs.filter((r) => b.includes(r));
}

/** Per-example scores of both rows, each averaged over their shared runs; null unless both have them, one length. */
function examplePairs(c: Compared, metric: string): { xs: number[]; ys: number[] } | null {
  const shared = sharedRuns(c, metric);
  if (shared.length === 0) return null;
  const xs = exampleMeans(c.row, metric, shared);
  const ys = exampleMeans(c.ref, metric, shared);
  return xs && ys && xs.length === ys.length ? { xs, ys } : null;
}

function test(c: Compared, metric: string, alpha: number): SignificanceTest | null {
  let pairing: Pairing = 'examples';
  let pairs = examplePairs(c, metric);
  if (!pairs) {
    pairing = 'runs';
    const a = valuesOf(c.row, metric);
    const b = valuesOf(c.ref, metric);
    const shared = sharedRuns(c, metric).slice(0, c.bothIdentical ? 1 : undefined);
    pairs = { xs: shared.map((r) => a.values[a.runs.indexOf(r)] as number), ys: shared.map((r) => b.values[b.runs.indexOf(r)] as number) };
  }
  const t = pairedTTest(pairs.xs, pairs.ys);
  if (!t) return null;
  return { against: c.ref.kind, pairing, t: t.t, df: t.df, p: t.p, n: t.n, significant: t.p < alpha };
}

function interval(c: Compared, metric: string, opts: Required<BootstrapOptions>): MetricSummary['interval'] {
  const pairs = examplePairs(c, metric);
  const b = pairs && pairedBootstrap(pairs.xs, pairs.ys, opts);
  return b ? { against: c.ref.kind, ...b } : null;
}

/** Summarize results into the report's JSON form (see the module comment for the statistics). */
export function reportJson(input: ReportInput): ReportJson {
  validate(input);
  const alpha = input.alpha ?? 0.05;
  const boot: Required<BootstrapOptions> = {
    resamples: input.bootstrap?.resamples ?? BOOTSTRAP_RESAMPLES,
    seed: input.bootstrap?.seed ?? BOOTSTRAP_SEED,
    level: input.bootstrap?.level ?? BOOTSTRAP_LEVEL,
  };
  const metrics = metricOrder(input);
  const identical = new Map(input.prompts.map((p) => [p.kind, identicalRuns(p, metrics)]));
  const lowerIsBetter = [...(input.lowerIsBetter ?? [])];
  const better = (metric: string, x: number, y: number) => (lowerIsBetter.includes(metric) ? x < y : x > y);

  const means = new Map<string, Map<string, number>>(); // kind -> metric -> mean
  for (const p of input.prompts) {
    const m = new Map<string, number>();
    for (const metric of metrics) m.set(metric, mean(valuesOf({ runs: reportedRuns(p, identical.get(p.kind) === true) }, metric).values));
    means.set(p.kind, m);
  }
  const meanOf = (p: PromptResult, metric: string) => means.get(p.kind)?.get(metric) ?? NaN;

  const reference: Record<string, string | null> = {};
  const bestMean: Record<string, number> = {};
  for (const metric of metrics) {
    let ref: PromptResult | null = null;
    let best = NaN;
    for (const p of input.prompts) {
      const v = meanOf(p, metric);
      if (Number.isNaN(v)) continue;
      if (Number.isNaN(best) || better(metric, v, best)) best = v;
      if (isManual(p) && (ref === null || better(metric, v, meanOf(ref, metric)))) ref = p;
    }
    reference[metric] = ref?.kind ?? null;
    bestMean[metric] = best;
  }

  const rows: ReportRow[] = input.prompts.map((p) => {
    const same = identical.get(p.kind) === true;
    const cells: Record<string, MetricSummary> = {};
    for (const metric of metrics) {
      const { runs, values } = valuesOf({ runs: reportedRuns(p, same) }, metric);
      const refKind = reference[metric];
      const ref = refKind == null ? undefined : input.prompts.find((q) => q.kind === refKind);
      const c: Compared | null = ref && ref !== p ? { row: p, ref, bothIdentical: same && identical.get(ref.kind) === true } : null;
      const m = meanOf(p, metric);
      cells[metric] = {
        mean: m,
        std: sampleStd(values),
        n: values.length,
        values,
        runs,
        best: !Number.isNaN(m) && m === bestMean[metric],
        test: c ? test(c, metric, alpha) : null,
        interval: c ? interval(c, metric, boot) : null,
      };
    }
    const row: ReportRow = { kind: p.kind, manual: isManual(p), identical: same, runsMeasured: p.runs.length, metrics: cells };
    if (p.prompt !== undefined) row.prompt = p.prompt;
    const variation = p.variation ?? input.variation;
    if (variation !== undefined) row.variation = variation;
    return row;
  });

  const out: ReportJson = { split: input.split ?? 'test', alpha, metrics, lowerIsBetter, reference, bootstrap: boot, rows };
  if (input.variation !== undefined) out.variation = input.variation;
  if (input.title !== undefined) out.title = input.title;
  if (input.task !== undefined) out.task = input.task;
  return out;
}
