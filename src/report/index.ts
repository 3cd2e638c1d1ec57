/** The report layer: the paper's table as JSON and Markdown, significance tests, bootstrap intervals, SVG plots. */
export { reportJson, identicalRuns } from './summary.js';
export { reportMarkdown, summaryText, IDENTICAL_LABEL } from './markdown.js';
export { pairedBootstrap, quantile, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, BOOTSTRAP_LEVEL } from './bootstrap.js';
export type { BootstrapInterval, BootstrapOptions } from './bootstrap.js';
export type { MarkdownOptions } from './markdown.js';
export { plotLines, lineChartSpec, renderSvg, wrapText, PALETTE } from './plot.js';
export type { Marker, PlotOptions, Series } from './plot.js';
export { mean, sampleStd, pairedTTest } from './stats.js';
export type { TTestResult } from './stats.js';
export type {
  MetricRecord,
  MetricSummary,
  Pairing,
  PromptKindName,
  PromptResult,
  ReportInput,
  ReportJson,
  ReportRow,
  RunResult,
  SignificanceTest,
} from './types.js';
export { writeReport } from './write.js';
export type { PlotSpec, WrittenReport } from './write.js';
