/**
 * `runDemo`: PAP-REC end to end on a fresh machine, with nothing downloaded. Generate the synthetic world and its
 * tokenizer, pretrain a tiny P5 backbone on it, then for each task run the searches of the paper's table
 * (non-personalized and personalized) with the test evaluation of the seen and unseen manual prompts, add the
 * popularity baseline to the ranking tables, and write one report over everything.
 *
 * Output folder (default ./paprec-demo):
 *   data/                 the P5 folder (sequential_data.txt, datamaps.json, exp_splits.pkl, meta.json.gz, ...)
 *   tokenizer.json        the demo tokenizer
 *   backbone/             the pretrained model (config.json, model.safetensors, tokenizer.json, train_log.jsonl)
 *   <task>/               one `paprec search` folder per task: prompt.json, history.jsonl, report.md, report.json,
 *                         surrogate.svg (validation surrogate per search epoch), time.svg, state.json, results.json,
 *                         soft.json (the soft prompt baseline and its projection, rows of the task's table)
 *   pretrain.svg          the backbone's validation HR@5 / NDCG@5 per pretraining epoch
 *   report.md, report.json  every task's table, the popularity baseline and the pretraining summary
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fail, PaprecError } from '../errors.js';
import { loadDataset } from '../data/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { plotLines, reportMarkdown, type PromptResult, type ReportJson } from '../report/index.js';
import { runSearch, type RunProgress } from '../search/run.js';
import { loadState } from '../search/state.js';
import { promptJson, writeReportFiles, type PromptJson, type SearchResults } from '../search/report.js';
import { pretrain, type PretrainEvent, type PretrainResult } from '../train/index.js';
import type { Task, Tokenizer } from '../types.js';
import { formatScore as fmt } from '../util/format.js';
import { ensureDir, exists, writeFileAtomic } from '../util/fs.js';
import { userEntries } from '../util/lock.js';
import { writeDemoData } from './index.js';
import { demoPlan, type DemoPlan } from './plan.js';
import { popularRow, withPopularRow, POPULAR_KIND } from './popular.js';
import { softPromptRows } from './soft.js';
import { constrainedRows, userCheckRow } from './extra.js';

export const DEFAULT_DEMO_DIR = 'paprec-demo';
export const DEFAULT_DEMO_SEED = 2024;

export interface DemoOptions {
  /** Output folder (default ./paprec-demo). */
  out?: string;
  seed?: number;
  /** Sequential only, fewer epochs and runs: under 3 minutes on 2 CPU cores. */
  quick?: boolean;
  /** cpu | cuda | cuda:N | auto (default auto). */
  device?: string;
  /** Replace the demo's files in a non-empty output folder. */
  overwrite?: boolean;
  /** Stop at the next safe point; the result says `interrupted`. */
  signal?: AbortSignal;
  /** Change the plan (tests, experiments): merged over `demoPlan(quick, seed)`. */
  plan?: (plan: DemoPlan) => DemoPlan;
}

export type DemoStage = 'data' | 'pretrain' | 'search' | 'report';

export type DemoEvent =
  | { type: 'stage'; stage: DemoStage; task?: Task; step: number; steps: number; message: string }
  | { type: 'pretrain'; event: PretrainEvent }
  | { type: 'search'; task: Task; progress: RunProgress };

export interface DemoTaskResult {
  task: Task;
  /** The task's `paprec search` folder. */
  dir: string;
  report: ReportJson;
  /** The searched prompts with their validation scores at the start and at the best epoch. */
  prompts: PromptJson;
}

export interface DemoResult {
  outDir: string;
  plan: DemoPlan;
  dataDir: string;
  tokenizerPath: string;
  modelDir: string;
  pretrain: PretrainResult;
  tasks: DemoTaskResult[];
  /** The combined report.md. */
  markdown: string;
  /** Every file the demo wrote that a reader opens first. */
  files: string[];
  seconds: number;
  interrupted: boolean;
}

/** The demo's own entries of its folder: what `overwrite` replaces (nothing else is touched). */
const OWNED = ['data', 'tokenizer.json', 'backbone', 'sequential', 'explanation', 'matching', ...['sequential', 'explanation', 'matching'].map(userCheckDir), 'pretrain.svg', 'report.md', 'report.json'];

/** Where the demo runs a task's search again with `--user-accept last-train` (beside the task's own folder). */
function userCheckDir(task: string): string {
  return `${task}-user-accept`;
}

async function prepareOut(out: string, overwrite: boolean): Promise<void> {
  if (exists(out)) {
    const entries = await userEntries(out).catch(() => fail(out, 'output path exists and is not a folder'));
    if (entries.length > 0 && !overwrite) fail(out, 'output folder exists and is not empty; pass --overwrite to replace the demo in it, or choose another folder with -o');
    for (const name of OWNED) await fsp.rm(path.join(out, name), { recursive: true, force: true });
  }
  await ensureDir(out);
}

/** Validation HR@5 and NDCG@5 of the backbone per pretraining epoch, the kept epoch marked. */
async function pretrainPlot(r: PretrainResult): Promise<string> {
  const pts = (f: (v: PretrainResult['history'][number]) => number | undefined) =>
    r.history.filter((h) => f(h) !== undefined).map((h) => [h.epoch + 1, f(h)!] as const);
  const kept = r.best
    ? [
        { name: 'kept epoch', series: 'HR@5', x: r.best.epoch + 1, y: r.best.validation.hr5 ?? NaN },
        { name: 'kept epoch', series: 'NDCG@5', x: r.best.epoch + 1, y: r.best.validation.ndcg5 ?? NaN },
      ]
    : [];
  return plotLines(
    [
      { name: 'HR@5', points: pts((h) => h.validation.hr5) },
      { name: 'NDCG@5', points: pts((h) => h.validation.ndcg5) },
    ],
    {
      title: 'Backbone pretraining: validation HR@5 and NDCG@5 per epoch',
      subtitle: 'Sequential task, prompt 2-3, beam 5 returning 5, on the validation users.',
      xLabel: 'epoch',
      yLabel: 'validation metric',
      legendTitle: 'metric',
      markers: kept,
    },
  );
}

/**
 * The demo's extra rows, added to a task's table and its report files rewritten with them: the popularity baseline
 * (ranking tasks) right after the manual prompts, then the searched prompts, `extra` (constrained decoding, the
 * user-check search), the soft prompt and its projection at the end.
 */
async function addRows(dir: string, dataDir: string, results: SearchResults, tokenizer: Tokenizer, extra: PromptResult[], soft: PromptResult[]): Promise<void> {
  const state = await loadState(dir);
  const task = state.options.task;
  let prompts = [...results.prompts, ...extra, ...soft];
  if (task !== 'explanation') {
    // The same users the search loaded: popularity is counted over them, as `paprec eval --baseline popular` does.
    const dataset = await loadDataset(dataDir, state.options.maxUsers !== undefined ? { maxUsers: state.options.maxUsers } : {});
    const row = popularRow(dataset, task, { runs: state.options.runs, seed: state.options.seed, ...(state.options.maxUsers !== undefined ? { maxUsers: state.options.maxUsers } : {}) });
    prompts = withPopularRow(prompts, row);
  }
  const out: SearchResults = { ...results, prompts };
  // results.json keeps the rows, so `paprec report DIR` rebuilds the same table.
  await writeFileAtomic(path.join(dir, 'results.json'), `${JSON.stringify(out)}\n`);
  await writeReportFiles(dir, state, tokenizer, out);
}

function combinedMarkdown(r: Omit<DemoResult, 'markdown' | 'files' | 'interrupted'>, taskMarkdown: Map<Task, string>): string {
  const w = r.plan.world;
  const best = r.pretrain.best;
  const lines = [
    `# paprec demo${r.plan.quick ? ' (quick)' : ''}`,
    '',
    `A synthetic beauty shop (seed ${w.seed}): ${w.users} users, ${w.items} items, ${w.categories} categories, ` +
      `sequences of ${w.minLength}-${w.maxLength} purchases where the next one is a successor of the last with probability ${w.successorProb}. ` +
      `Backbone: ${r.plan.config.numLayers}+${r.plan.config.numLayers} blocks, d_model ${r.plan.config.dModel}, pretrained from scratch on ` +
      `${r.plan.pretrain.tasks.join(', ')} (seen prompts only) for ${r.pretrain.history.length} epochs; ` +
      `best epoch ${best ? best.epoch + 1 : '–'}: validation HR@5 ${fmt(best?.validation.hr5)}, NDCG@5 ${fmt(best?.validation.ndcg5)}.`,
    '',
    `Rows: P5's seen and unseen manual prompts, the ${POPULAR_KIND} on the same test examples (ranking tasks), and the ` +
      `PAP-REC prompts found by the non-personalized and personalized searches, then the continuous (soft) prompt baseline ` +
      `(the same l slots, their embeddings trained on the training loss, backbone frozen) and its nearest-token projection. ` +
      `Folder: ${r.outDir}; total ${r.seconds.toFixed(0)} s.`,
    '',
  ];
  for (const t of r.tasks) {
    lines.push(`## ${t.task}`, '', taskMarkdown.get(t.task) ?? reportMarkdown(t.report), '');
    for (const p of t.prompts.prompts) {
      lines.push(`- ${p.kind} (${p.search}): \`${p.taskTokens.text.join(' ')}\`${p.personalized ? ' + [T_u]' : ''}, validation surrogate ${fmt(p.validation.start)} -> ${fmt(p.validation.best)}`);
    }
    lines.push('', `Files: ${path.join(t.dir, 'report.md')}, ${path.join(t.dir, 'surrogate.svg')}, ${path.join(t.dir, 'time.svg')}, ${path.join(t.dir, 'prompt.json')}, ${path.join(t.dir, 'soft.json')}`, '');
  }
  return `${lines.join('\n')}\n`;
}

/** What every phase of one demo run shares. */
interface DemoRun {
  opts: DemoOptions;
  plan: DemoPlan;
  seed: number;
  device: string;
  outDir: string;
  started: number;
  onEvent: (e: DemoEvent) => void;
}

function stage(run: DemoRun, s: DemoStage, step: number, message: string, task?: Task): void {
  run.onEvent({ type: 'stage', stage: s, step, steps: 2 + run.plan.tasks.length + 1, message, ...(task ? { task } : {}) });
}

const elapsed = (run: DemoRun) => (Date.now() - run.started) / 1000;

/** Phase 2: the backbone, pretrained from scratch on the world's data; its validation curve as pretrain.svg. */
async function pretrainBackbone(run: DemoRun, demo: { dataDir: string; tokenizerPath: string }, tokenizer: Tokenizer): Promise<PretrainResult> {
  const { plan, opts } = run;
  stage(run, 'pretrain', 2, `pretraining the backbone (${plan.pretrain.epochs} epochs on ${plan.pretrain.tasks.join(', ')})`);
  const modelDir = path.join(run.outDir, 'backbone');
  const pre = await pretrain(
    {
      data: demo.dataDir,
      tokenizer: demo.tokenizerPath,
      config: { vocabSize: tokenizer.vocabSize, ...plan.config },
      out: modelDir,
      epochs: plan.pretrain.epochs,
      batchSize: plan.pretrain.batchSize,
      lr: plan.pretrain.lr,
      tasks: plan.pretrain.tasks,
      sequentialPerUser: plan.pretrain.sequentialPerUser,
      matchingPerUser: plan.pretrain.matchingPerUser,
      ...(plan.pretrain.matchingCandidates !== undefined ? { matchingCandidates: plan.pretrain.matchingCandidates } : {}),
      validationUsers: plan.pretrain.validationUsers,
      device: run.device,
      seed: run.seed,
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
    (event) => run.onEvent({ type: 'pretrain', event }),
  );
  if (pre.completed && pre.best) await writeFileAtomic(path.join(run.outDir, 'pretrain.svg'), await pretrainPlot(pre));
  return pre;
}

/** Phase 3: one task's `paprec search` (non-personalized and personalized) with its test table; undefined = stopped. */
async function searchTask(
  run: DemoRun,
  task: Task,
  step: number,
  inputs: { dataDir: string; tokenizerPath: string; modelDir: string },
  tokenizer: Tokenizer,
): Promise<{ result: DemoTaskResult; markdown: string } | undefined> {
  const { plan, opts } = run;
  stage(run, 'search', step, `${task}: non-personalized and personalized PAP-REC searches, then the test table`, task);
  const dir = path.join(run.outDir, task);
  const search = {
      data: inputs.dataDir,
      model: inputs.modelDir,
      tokenizer: inputs.tokenizerPath,
      task,
      personalized: true,
      length: plan.search.length,
      k: plan.search.k,
      epochs: plan.search.epochs,
      runs: plan.search.runs,
      gradientSample: plan.search.gradientSample,
      // Explanation decodes long texts: the demo's 2-core budget takes fewer beams and a shorter length than the
      // protocol's defaults (the same for the search and its test table; `paprec eval --beams --max-length` repeats it).
      ...(task === 'explanation' ? { beams: plan.search.beams, testBeams: plan.search.beams, maxLength: plan.search.maxLength } : {}),
      ...(plan.search.maxUsers[task] !== undefined ? { maxUsers: plan.search.maxUsers[task] } : {}),
      seed: run.seed,
      device: run.device,
      ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const onProgress = (progress: RunProgress) => run.onEvent({ type: 'search', task, progress });
  const r = await runSearch({ ...search, out: dir }, onProgress);
  if (r.interrupted || !r.results) return undefined;
  const note = (message: string) => run.onEvent({ type: 'stage', stage: 'search', step, steps: 2 + plan.tasks.length + 1, task, message: `${task}: ${message}` });
  const extra: PromptResult[] = [];
  if (plan.search.userAccept.includes(task)) {
    note("the personalized search again, each user's token accepted on its last training example (--user-accept last-train)");
    const row = await userCheckRow(dir, path.join(run.outDir, userCheckDir(task)), search, inputs, run.device);
    if (!row) return undefined;
    extra.push(row);
  }
  if (plan.search.constrained.includes(task)) {
    note('the prompts decoded constrained to the listed candidates');
    extra.push(...(await constrainedRows(dir, inputs, run.device)));
  }
  note('the soft prompt baseline (Adam on the slot embeddings) and its projection');
  await addRows(dir, inputs.dataDir, r.results, tokenizer, extra, await softPromptRows(dir, inputs, run.device));
  const report = JSON.parse(await fsp.readFile(path.join(dir, 'report.json'), 'utf8')) as ReportJson;
  const markdown = await fsp.readFile(path.join(dir, 'report.md'), 'utf8');
  return { result: { task, dir, report, prompts: promptJson(r.state, tokenizer) }, markdown };
}

/** Phase 4: the combined report.md / report.json over every task. */
async function writeCombined(run: DemoRun, partial: Omit<DemoResult, 'tasks' | 'markdown' | 'files' | 'seconds' | 'interrupted'>, tasks: DemoTaskResult[], taskMarkdown: Map<Task, string>): Promise<DemoResult> {
  stage(run, 'report', 2 + run.plan.tasks.length + 1, 'writing the report');
  const seconds = elapsed(run);
  const markdown = combinedMarkdown({ ...partial, tasks, seconds }, taskMarkdown);
  const reportFile = path.join(run.outDir, 'report.md');
  const jsonFile = path.join(run.outDir, 'report.json');
  await writeFileAtomic(reportFile, markdown);
  const pre = partial.pretrain;
  await writeFileAtomic(
    jsonFile,
    `${JSON.stringify(
      {
        quick: run.plan.quick,
        seed: run.seed,
        seconds,
        plan: run.plan,
        pretrain: { epochs: pre.history.length, best: pre.best, history: pre.history },
        tasks: Object.fromEntries(tasks.map((t) => [t.task, { dir: path.relative(run.outDir, t.dir), report: t.report, prompts: t.prompts.prompts }])),
      },
      null,
      2,
    )}\n`,
  );
  const files = [reportFile, jsonFile, path.join(run.outDir, 'pretrain.svg'), ...tasks.flatMap((t) => [path.join(t.dir, 'report.md'), path.join(t.dir, 'surrogate.svg')])];
  return { ...partial, tasks, markdown, files, seconds, interrupted: false };
}

/** Run the whole demo into `opts.out`; `onEvent` sees every stage, pretraining step and search round. */
export async function runDemo(opts: DemoOptions = {}, onEvent: (e: DemoEvent) => void = () => {}): Promise<DemoResult> {
  const seed = opts.seed ?? DEFAULT_DEMO_SEED;
  if (!Number.isInteger(seed) || seed < 0) fail('demo', `--seed must be a non-negative integer, got ${seed}`);
  const base = demoPlan(opts.quick ?? false, seed);
  const plan = opts.plan ? opts.plan(base) : base;
  const run: DemoRun = { opts, plan, seed, device: opts.device ?? 'auto', outDir: path.resolve(opts.out ?? DEFAULT_DEMO_DIR), started: Date.now(), onEvent };
  const stopped = (tasks: DemoTaskResult[], partial: Omit<DemoResult, 'tasks' | 'markdown' | 'files' | 'seconds' | 'interrupted'>): DemoResult =>
    ({ ...partial, tasks, markdown: '', files: [], seconds: elapsed(run), interrupted: true });

  await prepareOut(run.outDir, opts.overwrite ?? false);
  stage(run, 'data', 1, 'generating the synthetic world and its tokenizer');
  const demo = await writeDemoData(run.outDir, plan.world);
  const tokenizer = await loadTokenizer(demo.tokenizerPath);

  const pre = await pretrainBackbone(run, demo, tokenizer);
  const modelDir = path.join(run.outDir, 'backbone');
  const partial = { outDir: run.outDir, plan, dataDir: demo.dataDir, tokenizerPath: demo.tokenizerPath, modelDir, pretrain: pre };
  if (!pre.completed || !pre.best) {
    if (opts.signal?.aborted === true) return stopped([], partial);
    throw new PaprecError(`demo: pretraining finished no epoch (${modelDir})`);
  }

  const tasks: DemoTaskResult[] = [];
  const taskMarkdown = new Map<Task, string>();
  for (const [i, task] of plan.tasks.entries()) {
    const done = await searchTask(run, task, 3 + i, { ...demo, modelDir }, tokenizer);
    if (!done) return stopped(tasks, partial);
    tasks.push(done.result);
    taskMarkdown.set(task, done.markdown);
  }
  return writeCombined(run, partial, tasks, taskMarkdown);
}
