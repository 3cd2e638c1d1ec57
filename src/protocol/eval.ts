/**
 * `paprec eval` as a library call: one prompt (a manual P5 baseline or a searched prompt file) on the test (or
 * validation) split under the test protocol, R runs that differ by the rendering seed, the paper's table with
 * mean ± std; optionally the popularity baseline and candidate-constrained decoding as extra rows.
 */
import type { Dataset, Split, Task, Tokenizer } from '../types.js';
import { TASKS } from '../types.js';
import { PaprecError, fail } from '../errors.js';
import { loadDataset } from '../data/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { baselinePrompt, promptExamples, type Prompt } from '../prompts/index.js';
import { readPromptFile } from '../prompts/promptFile.js';
import { Backbone, type Dtype } from '../backbone/index.js';
import { popularRanks } from '../baselines/popular.js';
import { Recommender } from '../recommend/index.js';
import { IDENTICAL_LABEL, reportJson, summaryText, type PromptResult, type ReportJson, type RunResult } from '../report/index.js';
import { checkWritable, writeFileAtomic } from '../util/fs.js';
import { testDecoding, type Decoding } from './decoding.js';
import { evaluatePrompts, type ProtocolOptions } from './evaluate.js';
import { metricNames, rankingMeasure } from './measure.js';
import type { ProcessGroup } from '../dist/group.js';
import { rankDevice } from '../dist/env.js';
import { native } from '../native.js';

export interface EvalOptions {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  /** 'seen' | 'unseen' (P5's manual prompts) or a prompt JSON file[#N] (from `paprec search`). */
  prompt: string;
  split?: Split; // default test
  runs?: number; // default 5
  /** Test beams (default 20): ranking tasks rank the top min(10, beams). */
  beams?: number;
  /** Generation length, counting the start token (default 50, P5's evaluation). */
  maxLength?: number;
  maxUsers?: number;
  device?: string;
  /** fp32 (default, HF's exact protocol), bf16 or auto. */
  dtype?: Dtype;
  baseline?: 'popular';
  /** Base seed of the rendering; run r (1-based) uses seed + r - 1 (default: the dataset's seed). */
  seed?: number;
  batchSize?: number;
  streams?: number;
  json?: string;
  /** Also decode constrained to valid items (the catalogue; matching: the row's candidates), reported beside. */
  constrained?: boolean;
  /** Distributed (src/dist): the test rows sharded by user over the group's ranks; rank 0 alone writes --json. */
  group?: ProcessGroup;
}

export interface MetricSummary {
  mean: number;
  std: number;
  values: number[];
}

export interface EvalReport {
  task: Task;
  split: Split;
  prompt: string;
  runsCompleted: number;
  examples: number;
  metrics: Record<string, MetricSummary>;
  baseline?: { name: 'popular'; metrics: Record<string, MetricSummary> };
  interrupted: boolean;
  /** --constrained: the same metrics with decoding constrained to valid items. */
  constrained?: Record<string, MetricSummary>;
  /** The decoding every run used. */
  decoding: Decoding;
  /** The rows as the report layer summarises them (significance against the manual prompt included). */
  table: ReportJson;
}

export interface EvalIo {
  progress?: (line: string) => void;
  shouldStop?: () => boolean | Promise<boolean>;
  /** Sees the finished report before the --json file is written (the CLI prints the table there). */
  report?: (r: EvalReport) => void;
}

const CONSTRAINED = ' (constrained)';
const POPULAR = 'popular';
const SOFT = 'soft prompt';

function checkOptions(o: EvalOptions): { runs: number; decoding: Decoding } {
  if (!TASKS.includes(o.task)) fail('eval', `--task must be one of ${TASKS.join(', ')}, got ${o.task}`);
  const runs = o.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 1) fail('eval', `--runs must be a positive integer, got ${runs}`);
  if (o.beams !== undefined && (!Number.isInteger(o.beams) || o.beams < 1)) fail('eval', `--beams must be a positive integer, got ${o.beams}`);
  if (o.baseline !== undefined && o.baseline !== 'popular') fail('eval', `--baseline must be popular, got ${o.baseline}`);
  if (o.baseline && o.task === 'explanation') fail('eval', '--baseline popular ranks items: not for the explanation task');
  if (o.constrained && o.task === 'explanation') fail('eval', '--constrained decodes item ids: not for the explanation task');
  for (const [flag, v, max] of [['--streams', o.streams, 64], ['--batch-size', o.batchSize, 1 << 20], ['--max-length', o.maxLength, 4096], ['--max-users', o.maxUsers, Number.MAX_SAFE_INTEGER]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > max)) fail('eval', `${flag} must be an integer in 1..${max}, got ${v}`);
  }
  return { runs, decoding: testDecoding(o.task, { ...(o.beams !== undefined ? { beams: o.beams } : {}), ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}) }) };
}

async function loadPrompt(o: EvalOptions, tokenizer: Tokenizer, dataset: Dataset): Promise<Prompt> {
  if (o.prompt === 'seen' || o.prompt === 'unseen') return baselinePrompt({ task: o.task, kind: o.prompt });
  return readPromptFile(o.prompt, tokenizer, { task: o.task, numUsers: dataset.users.length, soft: true });
}

/** The table row's name: the prompt as given, or `soft prompt` for a soft prompt's embeddings. */
const rowKind = (o: EvalOptions, prompt: Prompt) => (prompt.type === 'automated' && prompt.slotEmbeddings ? SOFT : o.prompt);

async function loadBackbone(o: EvalOptions, tokenizer: Tokenizer): Promise<Backbone> {
  const device = rankDevice(o.device ?? 'auto', o.group?.env, o.group ? native().info().cudaDevices : 0);
  const backbone = await Backbone.load(o.model, { device, dtype: o.dtype ?? 'fp32' });
  // More model rows than tokenizer pieces are fine (T5 v1.1: 32,128 for 32,100): no target ever holds one.
  if (backbone.config.vocabSize < tokenizer.vocabSize) {
    await backbone.dispose();
    fail('eval', `the model's vocabulary (${backbone.config.vocabSize} rows) is smaller than the tokenizer's (${tokenizer.vocabSize} pieces)`);
  }
  return backbone;
}

/** The extra rows per finished run: decoding constrained to valid items, and the popularity baseline. */
async function extraRows(o: EvalOptions, p: ProtocolOptions, prompt: Prompt, runs: number): Promise<PromptResult[]> {
  const rows: PromptResult[] = [];
  const examplesOf = (run: number) => promptExamples(p.dataset, o.task, p.split, p.seed + run - 1, o.maxUsers);
  if (o.constrained) {
    const rec = new Recommender({ backbone: p.backbone, tokenizer: p.tokenizer, prompt, dataset: p.dataset });
    const d = p.decoding;
    const constrained: RunResult[] = [];
    for (let run = 1; run <= runs; run++) {
      const opts = { beams: d.numBeams, returnSequences: d.numReturnSequences, maxLength: d.maxLength, constrained: true, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}) };
      constrained.push({ run, ...rankingMeasure(o.task, await rec.rankTargets(examplesOf(run), opts)) });
    }
    rows.push({ kind: `${o.prompt}${CONSTRAINED}`, manual: false, runs: constrained });
  }
  if (o.baseline === 'popular') {
    const popular = Array.from({ length: runs }, (_, i) => ({ run: i + 1, ...rankingMeasure(o.task, popularRanks(p.dataset, examplesOf(i + 1))) }));
    rows.push({ kind: POPULAR, manual: false, runs: popular });
  }
  return rows;
}

function summaries(table: ReportJson, kind: string): Record<string, MetricSummary> {
  const row = table.rows.find((r) => r.kind === kind)!;
  return Object.fromEntries(Object.entries(row.metrics).map(([name, s]) => [name, { mean: s.mean, std: s.std, values: s.values }]));
}

export async function runEval(o: EvalOptions, io: EvalIo = {}): Promise<EvalReport> {
  const { runs, decoding } = checkOptions(o);
  const split = o.split ?? 'test';
  if (o.json) await checkWritable(o.json);
  const say = io.progress ?? (() => {});

  const dataset = await loadDataset(o.data, { ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}), onWarning: (m) => say(`note: ${m}`) });
  const tokenizer = await loadTokenizer(o.tokenizer);
  const prompt = await loadPrompt(o, tokenizer, dataset);
  const kind = rowKind(o, prompt);
  if (o.constrained && kind === SOFT) fail('eval', '--constrained decodes through the recommender, which takes discrete prompts: use FILE#projected');
  const backbone = await loadBackbone(o, tokenizer);
  const names = metricNames(o.task);
  const p: ProtocolOptions = {
    backbone,
    dataset,
    tokenizer,
    task: o.task,
    split,
    runs,
    seed: o.seed ?? dataset.seed,
    decoding,
    ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.streams !== undefined ? { streams: o.streams } : {}),
    onRun: (e) => say(`run ${e.run}/${e.runs} done in ${e.seconds.toFixed(1)} s: ${e.examples} examples, ${names.map((n) => `${n} ${e.metrics[n]!.toFixed(4)}`).join('  ')}`),
    ...(io.shouldStop ? { shouldStop: io.shouldStop } : {}),
    ...(o.group ? { group: o.group } : {}),
  };
  say(`${o.task} / ${split}: ${runs} run(s), ${decoding.numBeams} beams on ${backbone.device} in ${backbone.dtype}`);
  let report: EvalReport;
  try {
    const r = await evaluatePrompts(p, [{ kind, prompt }]);
    if (r.runsCompleted === 0) throw new PaprecError('eval: interrupted before the first run finished; nothing to report');
    const rows = [{ ...r.rows[0]!, manual: prompt.type === 'manual' }, ...(await extraRows(o, p, prompt, r.runsCompleted))];
    const table = reportJson({ title: `${o.task} / ${split}`, task: o.task, split, metrics: names, prompts: rows });
    report = {
      task: o.task,
      split,
      prompt: o.prompt,
      runsCompleted: r.runsCompleted,
      examples: r.examples,
      metrics: summaries(table, kind),
      interrupted: r.interrupted,
      decoding,
      table,
    };
    if (o.baseline === 'popular') report.baseline = { name: 'popular', metrics: summaries(table, POPULAR) };
    if (o.constrained) report.constrained = summaries(table, `${o.prompt}${CONSTRAINED}`);
  } finally {
    await backbone.dispose();
  }
  // The table first: a failed --json write must not throw away what was computed.
  io.report?.(report);
  if (o.json && (!o.group || o.group.isRoot)) await writeFileAtomic(o.json, JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** The paper's table: one row per prompt (and the baseline), `mean ± std` per metric; a row whose runs were all
 * identical shows its one value. */
export function formatEvalTable(r: EvalReport): string {
  const names = r.table.metrics;
  const rows: string[][] = [['prompt', ...names]];
  for (const row of r.table.rows) rows.push([`${row.kind}${row.identical ? ` (${IDENTICAL_LABEL})` : ''}`, ...names.map((n) => summaryText(row.metrics[n]))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c]!)).join('  ');
  const head = `${r.task} / ${r.split}: ${r.examples} examples, ${r.runsCompleted} run(s)${r.interrupted ? ' (interrupted)' : ''}`;
  return [head, line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
