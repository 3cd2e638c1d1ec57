/**
 * writeReport: the report files of an output folder (`paprec search`, `paprec report`, `paprec demo`), written
 * atomically so an interrupted run never leaves a half table behind.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { reportMarkdown, type MarkdownOptions } from './markdown.js';
import { plotLines, type PlotOptions, type Series } from './plot.js';
import { reportJson } from './summary.js';
import type { ReportInput, ReportJson } from './types.js';

export interface PlotSpec {
  /** File name inside the folder, e.g. `surrogate.svg`. */
  file: string;
  series: readonly Series[];
  options: PlotOptions;
}

export interface WrittenReport {
  json: ReportJson;
  markdown: string;
  /** Absolute paths of report.json, report.md and each plot. */
  files: string[];
}

/** Write `report.json`, `report.md` and the given SVG plots into `dir`. */
export async function writeReport(
  dir: string,
  input: ReportInput,
  opts: { plots?: readonly PlotSpec[]; markdown?: MarkdownOptions } = {},
): Promise<WrittenReport> {
  const json = reportJson(input);
  const markdown = reportMarkdown(json, opts.markdown);
  const files = [path.resolve(dir, 'report.json'), path.resolve(dir, 'report.md')];
  await writeFileAtomic(files[0]!, JSON.stringify(json, null, 2) + '\n');
  await writeFileAtomic(files[1]!, markdown);
  for (const plot of opts.plots ?? []) {
    const file = path.resolve(dir, plot.file);
    await writeFileAtomic(file, await plotLines(plot.series, plot.options));
    files.push(file);
  }
  return { json, markdown, files };
}
