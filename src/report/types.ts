/**
 * What the report layer reads and writes.
 *
 * Input: for each prompt kind (a row of the paper's table) and each run r = 1..R, the test metrics of that run, and
 * optionally the per-example scores behind them. Output: `ReportJson` (written as report.json) holds everything the
 * Markdown table shows, so `paprec report` can rebuild report.md from it alone.
 */

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
}

/** How a test paired its two samples. */
export type Pairing = 'examples' | 'runs';

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
  /** Number of runs with a value. */
  n: number;
  /** The per-run values, in run order. */
  values: number[];
  runs: number[];
  /** Best mean of the column (ties: all best). */
  best: boolean;
  /** Null for the reference row itself, without manual rows, or with fewer than two pairs. */
  test: SignificanceTest | null;
}

export interface ReportRow {
  kind: string;
  manual: boolean;
  prompt?: string;
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
  rows: ReportRow[];
}
