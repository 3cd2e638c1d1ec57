/**
 * reportJson: the numbers of the paper's table. Per row and metric: mean, sample std, n, the per-run values, and a
 * paired two-sided t-test against the best manual prompt of that metric.
 *
 * Pairing: when both rows carry per-example scores for the metric in every run they share (same length), each
 * example's score is averaged over those runs and the test pairs examples (n = number of examples, as in the paper's
 * per-user comparisons); otherwise it pairs the per-run metric values by run number (n = shared runs).
 */
import { fail } from '../errors.js';
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

function valuesOf(p: PromptResult, metric: string): { runs: number[]; values: number[] } {
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

function test(row: PromptResult, ref: PromptResult, metric: string, alpha: number): SignificanceTest | null {
  const a = valuesOf(row, metric);
  const b = valuesOf(ref, metric);
  const shared = a.runs.filter((r) => b.runs.includes(r));
  let pairing: Pairing = 'runs';
  let xs: number[];
  let ys: number[];
  const ea = shared.length > 0 ? exampleMeans(row, metric, shared) : null;
  const eb = shared.length > 0 ? exampleMeans(ref, metric, shared) : null;
  if (ea && eb && ea.length === eb.length) {
    pairing = 'examples';
    xs = ea;
    ys = eb;
  } else {
    xs = shared.map((r) => a.values[a.runs.indexOf(r)] as number);
    ys = shared.map((r) => b.values[b.runs.indexOf(r)] as number);
  }
  const t = pairedTTest(xs, ys);
  if (!t) return null;
  return { against: ref.kind, pairing, t: t.t, df: t.df, p: t.p, n: t.n, significant: t.p < alpha };
}

/** Summarize results into the report's JSON form (see the module comment for the statistics). */
export function reportJson(input: ReportInput): ReportJson {
  validate(input);
  const alpha = input.alpha ?? 0.05;
  const metrics = metricOrder(input);
  const lowerIsBetter = [...(input.lowerIsBetter ?? [])];
  const better = (metric: string, x: number, y: number) => (lowerIsBetter.includes(metric) ? x < y : x > y);

  const means = new Map<string, Map<string, number>>(); // kind -> metric -> mean
  for (const p of input.prompts) {
    const m = new Map<string, number>();
    for (const metric of metrics) m.set(metric, mean(valuesOf(p, metric).values));
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
    const cells: Record<string, MetricSummary> = {};
    for (const metric of metrics) {
      const { runs, values } = valuesOf(p, metric);
      const refKind = reference[metric];
      const ref = refKind == null ? undefined : input.prompts.find((q) => q.kind === refKind);
      const m = meanOf(p, metric);
      cells[metric] = {
        mean: m,
        std: sampleStd(values),
        n: values.length,
        values,
        runs,
        best: !Number.isNaN(m) && m === bestMean[metric],
        test: ref && ref !== p ? test(p, ref, metric, alpha) : null,
      };
    }
    const row: ReportRow = { kind: p.kind, manual: isManual(p), metrics: cells };
    if (p.prompt !== undefined) row.prompt = p.prompt;
    return row;
  });

  const out: ReportJson = { split: input.split ?? 'test', alpha, metrics, lowerIsBetter, reference, rows };
  if (input.title !== undefined) out.title = input.title;
  if (input.task !== undefined) out.task = input.task;
  return out;
}
