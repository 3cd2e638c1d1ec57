/**
 * reportMarkdown: the paper's table. Rows = prompt kinds, columns = metrics, cells `mean ± std`, the best mean of each
 * column in bold, ` *` after a cell whose paired two-sided t-test against the column's best manual prompt gives
 * p < alpha, and a note under the table that says how the test paired its samples.
 */
import { reportJson } from './summary.js';
import type { ReportInput, ReportJson } from './types.js';

export interface MarkdownOptions {
  /** Decimal places of means and standard deviations (default 4, as in the paper's tables). */
  digits?: number;
}

function isSummary(x: ReportInput | ReportJson): x is ReportJson {
  return Array.isArray((x as ReportJson).rows);
}

function num(x: number | null | undefined, digits: number): string | null {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : null;
}

/** `|` would end a table cell; newlines would end the row. */
function cellText(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The table (plus a one-paragraph note) for a report; accepts raw results or a report.json read back. */
export function reportMarkdown(input: ReportInput | ReportJson, opts: MarkdownOptions = {}): string {
  const report = isSummary(input) ? input : reportJson(input);
  const digits = opts.digits ?? 4;
  const lines: string[] = [];
  if (report.title) lines.push(`### ${cellText(report.title)}`, '');

  lines.push(`| prompt | ${report.metrics.map(cellText).join(' | ')} |`);
  lines.push(`|---|${report.metrics.map(() => '---:').join('|')}|`);
  for (const row of report.rows) {
    const cells = report.metrics.map((metric) => {
      const c = row.metrics[metric];
      const m = num(c?.mean, digits);
      if (!c || m === null) return '–';
      let text = `${m} ± ${num(c.std, digits) ?? '–'}`;
      if (c.best) text = `**${text}**`;
      if (c.test?.significant) text += ' *';
      return text;
    });
    lines.push(`| ${cellText(row.kind)} | ${cells.join(' | ')} |`);
  }

  lines.push('', note(report));
  return lines.join('\n') + '\n';
}

function note(report: ReportJson): string {
  const ns = new Set<number>();
  const pairings = new Set<string>();
  for (const row of report.rows) {
    for (const metric of report.metrics) {
      const c = row.metrics[metric];
      if (c && c.n > 0) ns.add(c.n);
      if (c?.test) pairings.add(c.test.pairing);
    }
  }
  const runs = ns.size === 0 ? 'runs' : ns.size === 1 ? `${[...ns][0]} run${[...ns][0] === 1 ? '' : 's'}` : `${[...ns].sort((a, b) => a - b).join(' to ')} runs`;
  const task = report.task ? `${report.task}, ` : '';
  const parts = [`Mean ± sample standard deviation over ${runs} (${task}${report.split} split); bold: best in the column.`];
  const refs = [...new Set(Object.values(report.reference).filter((r): r is string => r !== null))];
  if (refs.length > 0) {
    const how: string[] = [];
    if (pairings.has('examples')) how.push('over per-example scores averaged across runs');
    if (pairings.has('runs')) how.push('over runs');
    parts.push(
      `*: p < ${report.alpha} in a paired two-sided t-test against the best manual prompt of the column ` +
        `(${refs.join(' / ')})${how.length ? `, paired ${how.join(' or ')}` : ''}.`,
    );
  }
  return parts.join(' ');
}
