/**
 * The files of a search folder that are derived, not searched: prompt.json, report.json + report.md (the paper's
 * table on the test split), surrogate.svg (validation score per epoch, with the test value of each kept prompt at its
 * kept epoch once the test evaluation is done), time.svg (the best validation score against the search's cumulative
 * wall time, from history.jsonl: the criterion ablation's axis) and, for a length sweep, length.svg (the test metrics
 * against l, the paper's Figure 3). All are rebuilt from state.json + history.jsonl + results.json by `paprec report`.
 */
import * as path from 'node:path';
import type { Task, Tokenizer } from '../types.js';
import { plotLines, reportJson, reportMarkdown, type Marker, type PlotOptions, type PromptResult, type ReportJson, type Series } from '../report/index.js';
import { readFileOrFail, writeFileAtomic } from '../util/fs.js';
import { PaprecError } from '../errors.js';
import { readHistory, type HistoryRecord } from './history.js';
import { HISTORY_FILE, type RunState, type VariantSpec, type VariantState } from './state.js';
import { TEST_BEAMS, TEST_RETURN } from '../protocol/decoding.js';

export const RESULTS_FILE = 'results.json';

/** What the test evaluation produced (written once the searches are done). */
export interface SearchResults {
  task: string;
  /** One entry per table row. */
  prompts: PromptResult[];
  /** Sweep only: test metrics (mean over runs) of each non-personalized length. */
  lengths?: Array<{ length: number; placement: string; metrics: Record<string, number> }>;
}

export interface PromptJson {
  task: string;
  /** The prompt each table row used: tokens as ids and pieces, and its validation score. */
  prompts: Array<{
    kind: string;
    search: string;
    length: number;
    placement: string;
    personalized: boolean;
    taskTokens: { ids: number[]; text: string[] };
    userTokens?: Array<{ user: number; id: number; text: string }>;
    validation: { start: number | null; best: number | null; bestEpoch: number };
  }>;
}

/** The variant that represents a table row: the best validation score among its kind (ties: the earlier). */
export function chosenVariant(state: RunState, personalized: boolean): VariantState | undefined {
  let best: VariantState | undefined;
  for (const v of state.variants) {
    if (v.spec.personalized !== personalized || v.bestScore === null) continue;
    if (!best || v.bestScore > best.bestScore!) best = v;
  }
  return best;
}

/** Table rows of the automated prompts: the chosen non-personalized and personalized variants, plus every sweep variant. */
export function automatedRows(state: RunState): Array<{ kind: string; variant: VariantState }> {
  const rows: Array<{ kind: string; variant: VariantState }> = [];
  const np = chosenVariant(state, false);
  if (np) rows.push({ kind: 'non-personalized', variant: np });
  const p = chosenVariant(state, true);
  if (p) rows.push({ kind: 'personalized', variant: p });
  if (state.options.sweep || state.options.placements.length > 1) {
    for (const v of state.variants) {
      if (v === np || v === p || v.bestScore === null) continue;
      rows.push({ kind: `${v.spec.personalized ? 'personalized' : 'non-personalized'} (l=${v.spec.length}, ${v.spec.placement})`, variant: v });
    }
  }
  return rows;
}

export function promptJson(state: RunState, tokenizer: Pick<Tokenizer, 'idToPiece'>): PromptJson {
  const piece = (id: number) => tokenizer.idToPiece(id) ?? `<${id}>`;
  return {
    task: state.options.task,
    prompts: automatedRows(state).map(({ kind, variant: v }) => ({
      kind,
      search: v.spec.name,
      length: v.spec.length,
      placement: v.spec.placement,
      personalized: v.spec.personalized,
      taskTokens: { ids: [...v.best.taskTokens], text: v.best.taskTokens.map(piece) },
      ...(v.best.userTokens ? { userTokens: v.best.userTokens.map((id, u) => ({ user: u + 1, id, text: piece(id) })) } : {}),
      validation: { start: v.startScore, best: v.bestScore, bestEpoch: v.bestEpoch },
    })),
  };
}

/** A search as a reader names it: "non-personalized, l = 5" for np-l5 (", prefix" when placements vary). */
export function searchLabel(spec: VariantSpec, withPlacement = false): string {
  return `${spec.personalized ? 'personalized' : 'non-personalized'}, l = ${spec.length}${withPlacement ? `, ${spec.placement}` : ''}`;
}

function labels(state: RunState): Map<string, string> {
  const multi = new Set(state.variants.map((v) => v.spec.placement)).size > 1;
  return new Map(state.variants.map((v) => [v.spec.name, searchLabel(v.spec, multi)]));
}

/** The validation criterion in words, and the same quantity computed from a row's test metrics (none for loss). */
function criterion(state: RunState): { what: string; fromTest: ((m: Readonly<Record<string, number>>) => number) | null } {
  const o = state.options;
  const text = o.task === 'explanation';
  if (o.criterion === 'loss') return { what: 'validation -loss', fromTest: null };
  if (o.criterion === 'full') {
    return { what: 'validation full metric (sum of the table columns)', fromTest: (m) => Object.entries(m).reduce((s, [k, v]) => (k === 'HR@1' ? s : s + v), 0) };
  }
  const w = (alpha: number) => (alpha === 1 ? '' : `${alpha} `);
  return text
    ? { what: `validation surrogate (BLEU-4 + ${w(o.alphaExp)}ROUGE-L)`, fromTest: (m) => m['BLEU-4']! + o.alphaExp * m['ROUGE-L']! }
    : { what: `validation surrogate (HR@5 + ${w(o.alphaSeq)}NDCG@5)`, fromTest: (m) => m['HR@5']! + o.alphaSeq * m['NDCG@5']! };
}

function meanMetrics(row: PromptResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(row.runs[0]?.metrics ?? {})) {
    const xs = row.runs.map((r) => r.metrics[name]).filter((x): x is number => typeof x === 'number');
    out[name] = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}

export const KEPT_TEST = 'test split, kept prompt (at its kept epoch)';

/** The test value of each kept prompt, in the validation criterion's terms, at the epoch it was kept. */
function keptMarkers(state: RunState, results: SearchResults | undefined, names: Map<string, string>): Marker[] {
  const f = criterion(state).fromTest;
  if (!results || !f) return [];
  const markers: Marker[] = [];
  for (const { kind, variant } of automatedRows(state)) {
    const row = results.prompts.find((p) => p.kind === kind);
    if (!row || row.runs.length === 0) continue;
    markers.push({ name: KEPT_TEST, series: names.get(variant.spec.name)!, x: variant.bestEpoch, y: f(meanMetrics(row)) });
  }
  return markers;
}

/** A chart before rendering: its lines and options (markers included). */
export interface Chart {
  series: Series[];
  options: PlotOptions;
}

/** Validation score per epoch, one line per search, and (with test results) the kept prompts' test values. */
export function surrogateChart(state: RunState, results?: SearchResults): Chart {
  const names = labels(state);
  const series: Series[] = state.variants
    .filter((v) => v.curve.length > 0)
    .map((v) => ({ name: names.get(v.spec.name)!, points: v.curve.map((p) => [p.epoch, p.score] as const) }));
  const { what, fromTest } = criterion(state);
  const markers = keptMarkers(state, results, names);
  const o = state.options;
  const subtitle =
    `Search criterion ${o.criterion}, k = ${o.k}, ${o.beams} beams${o.maxUsers ? `, first ${o.maxUsers} users` : ''}. ` +
    (markers.length > 0
      ? 'Diamond: the prompt each search kept, scored the same way on the test split (beam 20, mean over runs), at its kept epoch.'
      : fromTest
        ? 'Test values of the kept prompts appear once the test evaluation is done.'
        : 'The loss criterion has no test counterpart to mark.');
  return {
    series,
    options: { title: `PAP-REC search (${o.task}): ${what} per epoch`, subtitle, xLabel: 'epoch', yLabel: what.replace(/^validation /, ''), legendTitle: 'search', markers },
  };
}

export async function surrogatePlot(state: RunState, results?: SearchResults): Promise<string> {
  const c = surrogateChart(state, results);
  return plotLines(c.series, c.options);
}

/** Per search: the best validation score so far after each committed round, against cumulative wall time. */
export function timeSeries(state: RunState, history: readonly HistoryRecord[]): Series[] {
  const names = labels(state);
  const out: Series[] = [];
  for (const v of state.variants) {
    let t = 0;
    const points: Array<readonly [number, number]> = [];
    for (const h of history) {
      if (h.search !== v.spec.name || !Number.isFinite(h.time)) continue;
      t += h.time;
      points.push([t, h.best]);
    }
    if (points.length > 0) out.push({ name: names.get(v.spec.name)!, points });
  }
  return out;
}

/** The criterion ablation's plot: best validation score against seconds of search; undefined without timed rounds. */
export async function timePlot(state: RunState, history: readonly HistoryRecord[]): Promise<string | undefined> {
  const series = timeSeries(state, history);
  if (series.length === 0) return undefined;
  const { what } = criterion(state);
  const o = state.options;
  return plotLines(series, {
    title: `PAP-REC search (${o.task}): best ${what} against wall time`,
    subtitle: `Criterion ${o.criterion}, k = ${o.k}: the best score so far after each round, against the seconds the search had run (history.jsonl).`,
    xLabel: 'wall time (s, cumulative)',
    yLabel: `best ${what.replace(/^validation /, '')}`,
    legendTitle: 'search',
    step: true,
  });
}

export async function lengthPlot(results: SearchResults): Promise<string | undefined> {
  if (!results.lengths || results.lengths.length < 2) return undefined;
  const names = Object.keys(results.lengths[0]!.metrics);
  const placement = results.lengths[0]!.placement;
  const series: Series[] = names.map((m) => ({
    name: m,
    points: results.lengths!.filter((r) => r.placement === placement).map((r) => [r.length, r.metrics[m]!] as const),
  }));
  return plotLines(series, {
    title: `Test metrics against the prompt length l (${results.task})`,
    subtitle: `Non-personalized prompts, ${placement} placement; mean over the test runs.`,
    xLabel: 'l (task tokens)',
    yLabel: 'test metric',
    legendTitle: 'metric',
  });
}

/** What differs between the test runs of a task's rows: the rendering seed, which only sequential examples use. */
export function runVariation(task: Task): string {
  return task === 'sequential'
    ? 'runs differ by the rendering seed (seed + r - 1): the history joiners, " , " or " -> "'
    : `runs differ by the rendering seed (seed + r - 1), which renders no ${task} example differently (one joiner)`;
}

export function buildReport(state: RunState, results: SearchResults): { json: ReportJson; markdown: string } {
  const json = reportJson({
    title: `PAP-REC ${state.options.task} prompts on the test split (${state.options.runs} runs)`,
    task: state.options.task,
    split: 'test',
    variation: runVariation(state.options.task),
    prompts: results.prompts,
  });
  const o = state.options;
  const notes = [
    '',
    `Search: criterion ${o.criterion}, k = ${o.k}, ${o.beams} beams, at most ${o.epochs} epochs, seed ${o.seed}` +
      `${o.maxUsers ? `, first ${o.maxUsers} users` : ''}` +
      `${o.userAccept === 'last-train' ? "; per-user acceptance judged on each user's last training example (--user-accept last-train)" : ''}. ` +
      `Test: beam ${o.testBeams ?? TEST_BEAMS}, ${o.task === 'explanation' ? 'the best sequence' : `top ${Math.min(TEST_RETURN, o.testBeams ?? TEST_BEAMS)}`}, max length ${o.maxLength}.`,
    '',
    '| search | l | placement | validation start | validation best | epochs | stop |',
    '|---|---:|---|---:|---:|---:|---|',
    ...state.variants.map(
      (v) =>
        `| ${v.spec.name} | ${v.spec.length} | ${v.spec.placement} | ${v.startScore?.toFixed(4) ?? '–'} | ${v.bestScore?.toFixed(4) ?? '–'} | ${v.epoch} | ${v.stopReason ?? v.status} |`,
    ),
  ];
  return { json, markdown: `${reportMarkdown(json)}\n${notes.join('\n')}\n` };
}

/**
 * Write prompt.json, surrogate.svg, time.svg (with timed rounds in history.jsonl) and, with test results,
 * report.json, report.md and length.svg. Returns the names written.
 */
export async function writeReportFiles(outDir: string, state: RunState, tokenizer: Pick<Tokenizer, 'idToPiece'>, results?: SearchResults): Promise<string[]> {
  const written: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(path.join(outDir, name), text);
    written.push(name);
  };
  await write('prompt.json', `${JSON.stringify(promptJson(state, tokenizer), null, 2)}\n`);
  if (state.variants.some((v) => v.curve.length > 0)) await write('surrogate.svg', await surrogatePlot(state, results));
  // The committed rounds only: a line after them belongs to a round a kill interrupted.
  const tp = await timePlot(state, (await readHistory(path.join(outDir, HISTORY_FILE))).slice(0, state.historyLength));
  if (tp) await write('time.svg', tp);
  if (!results) return written;
  const { json, markdown } = buildReport(state, results);
  await write('report.json', `${JSON.stringify(json, null, 2)}\n`);
  await write('report.md', markdown);
  const lp = await lengthPlot(results);
  if (lp) await write('length.svg', lp);
  return written;
}

export async function readResults(outDir: string): Promise<SearchResults> {
  const file = path.join(outDir, RESULTS_FILE);
  const text = (await readFileOrFail(file, 'test results (the search has not finished: continue it with `paprec search --resume`)')).toString('utf8');
  try {
    return JSON.parse(text) as SearchResults;
  } catch (err) {
    throw new PaprecError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
