/**
 * reportMarkdown: the paper's table. Rows = prompt kinds, columns = metrics, cells `mean ± std` (a row whose runs
 * were identical shows its one run, no ±), the best mean of each column in bold, ` *` after a cell whose paired
 * two-sided t-test against the column's best manual prompt gives p < alpha, a note under the table that says what
 * differs between runs and how each column's test paired its samples, and a second table with the 95% paired
 * bootstrap interval of each row's difference from the best manual prompt.
 */
import { reportJson } from './summary.js';
import type { MetricSummary, ReportInput, ReportJson, ReportRow } from './types.js';

export interface MarkdownOptions {
  /** Decimal places of means and standard deviations (default 4, as in the paper's tables). */
  digits?: number;
}

export const IDENTICAL_LABEL = 'identical in every run';

function isSummary(x: ReportInput | ReportJson): x is ReportJson {
  return Array.isArray((x as ReportJson).rows);
}

function num(x: number | null | undefined, digits: number): string | null {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : null;
}

function signed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x >= 0 && !s.startsWith('-') ? `+${s}` : s;
}

/** `|` would end a table cell; newlines would end the row. */
function cellText(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function rowLabel(row: ReportRow): string {
  return cellText(row.identical ? `${row.kind} (${IDENTICAL_LABEL})` : row.kind);
}

/**
 * A cell's value as every table of paprec shows it (this Markdown, `paprec eval`'s and the demo's text tables): the
 * mean, with ± the sample std when the row has more than one distinct run (identical runs count as one); '–' when
 * there is no finite mean.
 */
export function summaryText(c: Pick<MetricSummary, 'mean' | 'std' | 'n'> | undefined, digits = 4): string {
  const m = num(c?.mean, digits);
  if (!c || m === null) return '–';
  return c.n > 1 ? `${m} ± ${num(c.std, digits) ?? '–'}` : m;
}

function cell(c: MetricSummary | undefined, row: ReportRow, digits: number): string {
  if (!c || num(c.mean, digits) === null) return '–';
  let text = summaryText(c, digits); // an identical row reports one run (n = 1): no ±
  if (c.best) text = `**${text}**`;
  if (c.test?.significant) text += ' *';
  return text;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|---|${header.slice(1).map(() => '---:').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** The table (plus its notes and the bootstrap table) for a report; accepts raw results or a report.json read back. */
export function reportMarkdown(input: ReportInput | ReportJson, opts: MarkdownOptions = {}): string {
  const report = isSummary(input) ? input : reportJson(input);
  const digits = opts.digits ?? 4;
  const lines: string[] = [];
  if (report.title) lines.push(`### ${cellText(report.title)}`, '');
  lines.push(...table(['prompt', ...report.metrics.map(cellText)], report.rows.map((row) => [rowLabel(row), ...report.metrics.map((m) => cell(row.metrics[m], row, digits))])));
  lines.push('', note(report));
  const boot = bootstrapTable(report, digits);
  if (boot.length > 0) lines.push('', ...boot);
  return lines.join('\n') + '\n';
}

function runsNote(report: ReportJson): string {
  const varying = report.rows.filter((r) => !r.identical);
  const ns = new Set<number>();
  for (const row of varying) for (const m of report.metrics) if ((row.metrics[m]?.n ?? 0) > 0) ns.add(row.metrics[m]!.n);
  const sorted = [...ns].sort((a, b) => a - b);
  const runs = sorted.length === 0 ? 'runs' : sorted.length === 1 ? `${sorted[0]} run${sorted[0] === 1 ? '' : 's'}` : `${sorted.join(' to ')} runs`;
  const where = `${report.task ? `${report.task}, ` : ''}${report.split} split`;
  const variation = report.variation ? `; ${report.variation}` : '';
  const parts: string[] = [];
  if (varying.length > 0) parts.push(`Mean ± sample standard deviation over ${runs} (${where}${variation}); bold: best in the column.`);
  else parts.push(`One run per row (${where}${variation}); bold: best in the column.`);
  const same = report.rows.filter((r) => r.identical);
  if (same.length > 0) {
    const measured = [...new Set(same.map((r) => r.runsMeasured))].sort((a, b) => a - b).join(' / ');
    parts.push(
      `${same.length === report.rows.length ? `Every row was ${IDENTICAL_LABEL}` : `Rows marked "${IDENTICAL_LABEL}" were so`}: the same per-example scores in each of ` +
        `the ${measured} runs measured, so nothing differed and one run is shown (no ±).`,
    );
  }
  const own = report.rows.filter((r) => r.variation !== undefined && r.variation !== report.variation);
  for (const r of own) parts.push(`${cellText(r.kind)}: ${cellText(r.variation!)}.`);
  return parts.join(' ');
}

/** How each column's stars were tested: over users, over runs, or not at all. */
function testNote(report: ReportJson): string | null {
  const refs = [...new Set(Object.values(report.reference).filter((r): r is string => r !== null))];
  if (refs.length === 0) return null;
  const byUsers: string[] = [];
  const byRuns: string[] = [];
  const none: string[] = [];
  let users = new Set<number>();
  const runN = new Set<number>();
  for (const metric of report.metrics) {
    if (report.reference[metric] == null) continue;
    const tests = report.rows.map((r) => r.metrics[metric]?.test).filter((t) => t != null);
    if (tests.some((t) => t.pairing === 'examples')) {
      byUsers.push(metric);
      users = new Set([...users, ...tests.filter((t) => t.pairing === 'examples').map((t) => t.n)]);
    }
    if (tests.some((t) => t.pairing === 'runs')) {
      byRuns.push(metric);
      for (const t of tests) if (t.pairing === 'runs') runN.add(t.n);
    }
    if (tests.length === 0 && report.rows.some((r) => r.kind !== report.reference[metric] && r.metrics[metric]?.n)) none.push(metric);
  }
  const count = (s: Set<number>) => [...s].sort((a, b) => a - b).join(' / ');
  const corpus = (ms: string[]) => (ms.some((m) => /bleu/i.test(m)) ? ', a corpus statistic' : '');
  const how: string[] = [];
  if (byUsers.length > 0) how.push(`${byUsers.join(', ')} pair users (each example's score averaged over the runs, n = ${count(users)})`);
  if (byRuns.length > 0) how.push(`${byRuns.join(', ')} (no per-example score${corpus(byRuns)}) pair runs (n = ${count(runN)})`);
  if (none.length > 0) how.push(`${none.join(', ')} (no per-example score${corpus(none)}): no test is run with a single run`);
  return `*: p < ${report.alpha} in a paired two-sided t-test against the best manual prompt of the column (${refs.join(' / ')})${how.length ? `; ${how.join('; ')}` : ''}.`;
}

function note(report: ReportJson): string {
  return [runsNote(report), testNote(report)].filter((s) => s !== null).join(' ');
}

/** Row - best manual prompt with its 95% interval, for the rows and columns that have one. */
function bootstrapTable(report: ReportJson, digits: number): string[] {
  const metrics = report.metrics.filter((m) => report.rows.some((r) => r.metrics[m]?.interval));
  const rows = report.rows.filter((r) => metrics.some((m) => r.metrics[m]?.interval));
  if (rows.length === 0) return [];
  const b = report.bootstrap ?? rows.flatMap((r) => metrics.map((m) => r.metrics[m]?.interval)).find((i) => i)!;
  const ns = new Set(rows.flatMap((r) => metrics.map((m) => r.metrics[m]?.interval?.n)).filter((n): n is number => n !== undefined));
  const level = Math.round(b.level * 100);
  const head =
    `Difference from the best manual prompt of the column, with its ${level}% paired bootstrap interval over users ` +
    `(${[...ns].sort((x, y) => x - y).join(' / ')} examples resampled with replacement, ${b.resamples.toLocaleString('en-US')} resamples, seed ${b.seed}):`;
  const body = rows.map((row) => [
    cellText(row.kind),
    ...metrics.map((m) => {
      const i = row.metrics[m]?.interval;
      return i ? `${signed(i.difference, digits)} [${signed(i.lo, digits)}, ${signed(i.hi, digits)}]` : '–';
    }),
  ]);
  return [head, '', ...table(['prompt', ...metrics.map(cellText)], body)];
}
