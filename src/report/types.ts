/**
 * What the report layer reads and writes.
 *
 * Input: for each prompt kind (a row of the paper's table) and each run r = 1..R, the test metrics of that run, and
 * optionally the per-example scores behind them. Output: `ReportJson` (written as report.json) holds everything the
 * Markdown table shows, so `paprec report` can rebuild report.md from it alone.
 */
import type { BootstrapInterval, BootstrapOptions } from './bootstrap.js';

/** Metric name -> value, e.g. { 'HR@5': 0.031, 'NDCG@5': 0.021 }. */
export type MetricRecord = Readonly<Record<string, number>>;

export interface RunResult {
  /** Run number r (1..R). Runs with the same number in two rows are paired (same seed, same sampled data). */
  run: number;
  metrics: MetricRecord;
  /**
   * Optional per-example scores by metric (e.g. per test user HR@5 as 0/1), in one example order shared by every
   * prompt and run. When two rows have them for a metric, the significance test pairs examples instead of runs.
   */
  perExample?: Readonly<Record<string, readonly number[]>>;
}

/** Conventional row names; any other string is allowed. */
export type PromptKindName = 'seen manual' | 'unseen manual' | 'non-personalized' | 'personalized';

export interface PromptResult {
  kind: PromptKindName | (string & {});
  /** Manual prompts are the reference of the significance test. Default: the kind ends with "manual". */
  manual?: boolean;
  /** The prompt text (or a description), kept in report.json. */
  prompt?: string;
  /** What differs between this row's runs, when it is not what `ReportInput.variation` says. */
  variation?: string;
  runs: readonly RunResult[];
}

export interface ReportInput {
  title?: string;
  task?: string;
  /** Default 'test'. */
  split?: string;
  /** Column order. Default: metric names in order of first appearance. */
  metrics?: readonly string[];
  /** Metrics where lower is better (e.g. 'loss'); all others are higher-is-better, as HR, NDCG, BLEU and ROUGE are. */
  lowerIsBetter?: readonly string[];
  prompts: readonly PromptResult[];
  /** Significance level; default 0.05. */
  alpha?: number;
  /** What differs between runs, e.g. "runs differ by the rendering seed: history joiners". */
  variation?: string;
  /** The paired bootstrap over users (defaults: 1,000 resamples, seed 2022, 95%). */
  bootstrap?: BootstrapOptions;
}

/** How a test paired its two samples. */
export type Pairing = 'examples' | 'runs';

/**
 * The rule of the stars: a paired two-sided t-test against the column's best manual prompt that pairs examples
 * (users) whenever both rows carry per-example scores for the metric in every run they share; otherwise (BLEU-4, a
 * corpus statistic, or results without per-example scores) it pairs runs, and with fewer than two runs none is run.
 */
export interface SignificanceTest {
  /** The row tested against: the best manual prompt of this metric. */
  against: string;
  /**
   * 'examples': per-example scores, each example's score averaged over the runs both rows share, paired by example.
   * 'runs': per-run metric values, paired by run number.
   */
  pairing: Pairing;
  t: number;
  df: number;
  /** Two-sided p-value of a paired t-test. */
  p: number;
  /** Number of pairs. */
  n: number;
  significant: boolean;
}

export interface MetricSummary {
  mean: number;
  /** Sample standard deviation over runs (n - 1); 0 for a single run. */
  std: number;
  /** Number of runs with a value; 1 when every run of the row was identical (see `ReportRow.identical`). */
  n: number;
  /** The per-run values, in run order. */
  values: number[];
  runs: number[];
  /** Best mean of the column (ties: all best). */
  best: boolean;
  /** Null for the reference row itself, without manual rows, or with fewer than two pairs. */
  test: SignificanceTest | null;
  /**
   * 95% paired bootstrap interval over examples (users) of this row minus the best manual prompt; null without
   * per-example scores in both rows, for the reference row itself, or without manual rows.
   */
  interval: (BootstrapInterval & { against: string }) | null;
}

export interface ReportRow {
  kind: string;
  manual: boolean;
  prompt?: string;
  /** What differs between the row's runs (the row's own `variation`, else the report's). */
  variation?: string;
  /**
   * Every run gave identical per-example scores and metric values: nothing differed, so the row is one run
   * (`runsMeasured` says how many were measured).
   */
  identical: boolean;
  runsMeasured: number;
  metrics: Record<string, MetricSummary>;
}

export interface ReportJson {
  title?: string;
  task?: string;
  split: string;
  alpha: number;
  metrics: string[];
  lowerIsBetter: string[];
  /** Per metric: the kind of the best manual prompt (the test reference), or null without manual rows. */
  reference: Record<string, string | null>;
  variation?: string;
  /** Settings of the paired bootstrap behind each cell's `interval`. */
  bootstrap: { resamples: number; seed: number; level: number };
  rows: ReportRow[];
}
