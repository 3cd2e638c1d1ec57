/**
 * The files of a search folder that are derived, not searched: prompt.json, report.json + report.md (the paper's
 * table on the test split), surrogate.svg (validation score per epoch) and, for a length sweep, length.svg (the test
 * metrics against l, the paper's Figure 3). All are rebuilt from state.json + results.json by `paprec report`.
 */
import * as path from 'node:path';
import type { Tokenizer } from '../types.js';
import { plotLines, reportJson, reportMarkdown, type PromptResult, type ReportJson, type Series } from '../report/index.js';
import { readFileOrFail, writeFileAtomic } from '../util/fs.js';
import { PaprecError } from '../errors.js';
import type { RunState, VariantState } from './state.js';

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

/** Validation score per epoch, one line per search. */
export function surrogatePlot(state: RunState): string {
  const series: Series[] = state.variants
    .filter((v) => v.curve.length > 0)
    .map((v) => ({ name: v.spec.name, points: v.curve.map((p) => [p.epoch, p.score] as const) }));
  const what = state.options.criterion === 'loss' ? 'validation -loss' : state.options.criterion === 'full' ? 'validation full metric' : 'validation surrogate';
  return plotLines(series, { title: `PAP-REC search (${state.options.task}): ${what} per epoch`, xLabel: 'epoch', yLabel: what });
}

export function lengthPlot(results: SearchResults): string | undefined {
  if (!results.lengths || results.lengths.length < 2) return undefined;
  const names = Object.keys(results.lengths[0]!.metrics);
  const series: Series[] = names.map((m) => ({
    name: m,
    points: results.lengths!.filter((r) => r.placement === results.lengths![0]!.placement).map((r) => [r.length, r.metrics[m]!] as const),
  }));
  return plotLines(series, { title: `Test metrics against the prompt length l (${results.task})`, xLabel: 'l (task tokens)', yLabel: 'test metric' });
}

export function buildReport(state: RunState, results: SearchResults): { json: ReportJson; markdown: string } {
  const json = reportJson({
    title: `PAP-REC ${state.options.task} prompts on the test split (${state.options.runs} runs)`,
    task: state.options.task,
    split: 'test',
    prompts: results.prompts,
  });
  const o = state.options;
  const notes = [
    '',
    `Search: criterion ${o.criterion}, k = ${o.k}, ${o.beams} beams, at most ${o.epochs} epochs, seed ${o.seed}` +
      `${o.maxUsers ? `, first ${o.maxUsers} users` : ''}. Test: beam 20, top 10; runs differ by the rendering seed.`,
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

/** Write prompt.json, surrogate.svg and (with test results) report.json, report.md and length.svg. */
export async function writeReportFiles(outDir: string, state: RunState, tokenizer: Pick<Tokenizer, 'idToPiece'>, results?: SearchResults): Promise<void> {
  await writeFileAtomic(path.join(outDir, 'prompt.json'), `${JSON.stringify(promptJson(state, tokenizer), null, 2)}\n`);
  if (state.variants.some((v) => v.curve.length > 0)) await writeFileAtomic(path.join(outDir, 'surrogate.svg'), surrogatePlot(state));
  if (!results) return;
  const { json, markdown } = buildReport(state, results);
  await writeFileAtomic(path.join(outDir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
  await writeFileAtomic(path.join(outDir, 'report.md'), markdown);
  const lp = lengthPlot(results);
  if (lp) await writeFileAtomic(path.join(outDir, 'length.svg'), lp);
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
