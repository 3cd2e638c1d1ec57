/**
 * `paprec eval`: the paper's test table for one prompt (a manual P5 baseline or a searched prompt file), mean and
 * standard deviation over runs that differ only in the seed of the example rendering (history joiners, candidate
 * shuffles). Progress on stderr; Ctrl-C stops after the run in flight and reports the finished runs.
 */
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { PaprecError, fail } from '../errors.js';
import type { Split, Task, Tokenizer } from '../types.js';
import { TASKS } from '../types.js';
import { loadDataset } from '../data/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import {
  automatedPrompt,
  baselinePrompt,
  buildExampleSet,
  promptExamples,
  type Prompt,
} from '../prompts/index.js';
import { bleu4, hitRatePerExample, mean, ndcgPerExample, rouge } from '../metrics/index.js';
import { Backbone, type Dtype } from '../backbone/index.js';
import { dtypeOption, type CliDtype } from './dtype.js';
import { ResidentExampleSet } from '../engine/index.js';
import { popularRanks } from '../baselines/popular.js';
import { Recommender } from '../recommend/index.js';
import { checkWritable, writeFileAtomic } from '../util/fs.js';

export interface EvalOptions {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  /** 'seen' | 'unseen' (P5's manual prompts) or a prompt JSON file (from `paprec search`). */
  prompt: string;
  split?: Split; // default test
  runs?: number; // default 5
  beams?: number; // default 20
  /** Generation length, counting the start token (default 50, P5's evaluation). */
  maxLength?: number;
  maxUsers?: number;
  device?: string;
  /** fp32 (default, HF's exact protocol), bf16 or auto. */
  dtype?: Dtype;
  baseline?: 'popular';
  /** Base seed of the rendering; run r uses seed + r (default: the dataset's seed). */
  seed?: number;
  batchSize?: number;
  streams?: number;
  json?: string;
  /** Also decode constrained to valid items (the catalogue; matching: the row's candidates), reported beside. */
  constrained?: boolean;
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
}

export interface EvalIo {
  progress?: (line: string) => void;
  shouldStop?: () => boolean;
  /** Sees the finished report before the --json file is written (the CLI prints the table there). */
  report?: (r: EvalReport) => void;
}

/** The metric names of the paper's tables. */
export function metricNames(task: Task): string[] {
  if (task === 'explanation') return ['BLEU-4', 'ROUGE-1', 'ROUGE-2', 'ROUGE-L'];
  return task === 'matching' ? ['HR@1', 'HR@5', 'NDCG@5', 'HR@10', 'NDCG@10'] : ['HR@5', 'NDCG@5', 'HR@10', 'NDCG@10'];
}

function rankingTable(task: Task, ranks: Int32Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of metricNames(task)) {
    const [kind, at] = name.split('@') as [string, string];
    out[name] = mean(kind === 'HR' ? hitRatePerExample(ranks, Number(at)) : ndcgPerExample(ranks, Number(at)));
  }
  return out;
}

function summarize(runs: Array<Record<string, number>>, names: string[]): Record<string, MetricSummary> {
  const out: Record<string, MetricSummary> = {};
  for (const name of names) {
    const values = runs.map((r) => r[name]!);
    const m = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
    // sample standard deviation over runs (0 for a single run)
    const v = values.length > 1 ? values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1) : 0;
    out[name] = { mean: m, std: Math.sqrt(v), values };
  }
  return out;
}

/** A searched prompt: `paprec search`'s prompt JSON (first entry of `prompts`, or `--prompt FILE#N`) or a bare
 * `{taskTokens, userTokens?, placement?, userPosition?}` with ids (arrays of numbers, or {ids}). */
async function promptFromFile(spec: string, task: Task, tokenizer: Tokenizer, numUsers: number): Promise<Prompt> {
  const [file, index] = spec.includes('#') ? [spec.slice(0, spec.lastIndexOf('#')), Number(spec.slice(spec.lastIndexOf('#') + 1))] : [spec, 0];
  let json: any;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    fail(file, `cannot read the prompt file (${(err as Error).message}); --prompt takes seen, unseen or a prompt JSON file`);
  }
  if (json.task !== undefined && json.task !== task) fail(file, `the prompt is for task ${json.task}, --task is ${task}`);
  const p = Array.isArray(json.prompts) ? json.prompts[index] : json;
  if (!p || typeof p !== 'object') fail(file, `no prompt #${index} in the file`);
  const ids = (v: any): number[] | undefined => (Array.isArray(v) ? v : Array.isArray(v?.ids) ? v.ids : undefined);
  const taskTokens = ids(p.taskTokens);
  if (!taskTokens || taskTokens.some((t) => !Number.isInteger(t))) fail(file, 'taskTokens: expected an array of token ids');
  let userTokens: number[] | undefined;
  if (Array.isArray(p.userTokens)) {
    const table = automatedPrompt(tokenizer, { task, taskTokens, personalized: true, numUsers }).userTokens!;
    for (const [i, e] of p.userTokens.entries()) {
      const user = typeof e === 'number' ? i + 1 : e.user;
      const id = typeof e === 'number' ? e : e.id;
      if (!Number.isInteger(user) || !Number.isInteger(id)) fail(file, `userTokens[${i}]: expected an id or {user, id}`);
      if (user <= numUsers) table[user - 1] = id;
    }
    userTokens = Array.from(table);
  }
  return automatedPrompt(tokenizer, {
    task,
    taskTokens,
    ...(userTokens ? { personalized: true, numUsers, userTokens } : {}),
    ...(p.placement ? { placement: p.placement } : {}),
    ...(p.userPosition ? { userPosition: p.userPosition } : {}),
  });
}

export async function runEval(o: EvalOptions, io: EvalIo = {}): Promise<EvalReport> {
  const split = o.split ?? 'test';
  const runs = o.runs ?? 5;
  const beams = o.beams ?? 20;
  const maxLength = o.maxLength ?? 50;
  if (!TASKS.includes(o.task)) fail('eval', `--task must be one of ${TASKS.join(', ')}, got ${o.task}`);
  if (!Number.isInteger(runs) || runs < 1) fail('eval', `--runs must be a positive integer, got ${runs}`);
  if (!Number.isInteger(beams) || beams < 1) fail('eval', `--beams must be a positive integer, got ${beams}`);
  if (o.baseline !== undefined && o.baseline !== 'popular') fail('eval', `--baseline must be popular, got ${o.baseline}`);
  if (o.baseline && o.task === 'explanation') fail('eval', '--baseline popular ranks items: not for the explanation task');
  if (o.constrained && o.task === 'explanation') fail('eval', '--constrained decodes item ids: not for the explanation task');
  for (const [flag, v, max] of [['--streams', o.streams, 64], ['--batch-size', o.batchSize, 1 << 20], ['--max-length', o.maxLength, 4096], ['--max-users', o.maxUsers, Number.MAX_SAFE_INTEGER]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > max)) fail('eval', `${flag} must be an integer in 1..${max}, got ${v}`);
  }
  if (o.json) await checkWritable(o.json);
  const say = io.progress ?? (() => {});

  const dataset = await loadDataset(o.data, {
    ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}),
    onWarning: (m) => say(`note: ${m}`),
  });
  const tokenizer = await loadTokenizer(o.tokenizer);
  const numUsers = dataset.users.length;
  const prompt: Prompt =
    o.prompt === 'seen' || o.prompt === 'unseen'
      ? baselinePrompt({ task: o.task, kind: o.prompt })
      : await promptFromFile(o.prompt, o.task, tokenizer, numUsers);
  const backbone = await Backbone.load(o.model, { device: o.device ?? 'auto', dtype: o.dtype ?? 'fp32' });
  // More model rows than tokenizer pieces are fine (T5 v1.1: 32,128 for 32,100): no target ever holds one.
  if (backbone.config.vocabSize < tokenizer.vocabSize) {
    backbone.dispose();
    fail('eval', `the model's vocabulary (${backbone.config.vocabSize} rows) is smaller than the tokenizer's (${tokenizer.vocabSize} pieces)`);
  }
  const ranking = o.task !== 'explanation';
  const names = metricNames(o.task);
  const perRun: Array<Record<string, number>> = [];
  const baselineRuns: Array<Record<string, number>> = [];
  const constrainedRuns: Array<Record<string, number>> = [];
  const constrainedPath = o.constrained ? new Recommender({ backbone, tokenizer, prompt, dataset }) : undefined;
  const seed0 = o.seed ?? dataset.seed;
  let examples = 0;
  let interrupted = false;
  try {
    for (let run = 0; run < runs; run++) {
      if (io.shouldStop?.()) {
        interrupted = true;
        break;
      }
      const seed = seed0 + run;
      const set = buildExampleSet(dataset, tokenizer, {
        task: o.task,
        split,
        prompt,
        seed,
        ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}),
      });
      examples = set.size;
      say(`run ${run + 1}/${runs}: ${set.size} ${o.task} examples (${split}), ${beams} beams on ${backbone.device} in ${backbone.dtype}`);
      const started = Date.now();
      const resident = ResidentExampleSet.upload(backbone, set, {
        vocabLimit: tokenizer.vocabSize,
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
        ...(o.streams !== undefined ? { streams: o.streams } : {}),
      });
      try {
        const assignment =
          prompt.type === 'automated'
            ? { taskTokens: prompt.taskTokens, ...(prompt.userTokens ? { userTokens: prompt.userTokens.slice(0, set.numUsers) } : {}) }
            : { taskTokens: new Int32Array(0) };
        const [out] = await resident.evaluate([assignment], {
          numBeams: beams,
          numReturnSequences: ranking ? Math.min(10, beams) : 1,
          maxLength,
          earlyStopping: true,
          outcome: ranking ? 'ranks' : 'ids',
        });
        if (ranking) {
          perRun.push(rankingTable(o.task, out!));
        } else {
          const width = maxLength - 1;
          const hyps = Array.from({ length: set.size }, (_, i) => tokenizer.decode(out!.subarray(i * width, (i + 1) * width)));
          const refs = set.references ?? fail('eval', 'the explanation set has no reference texts');
          const r = rouge(hyps, refs);
          perRun.push({ 'BLEU-4': bleu4(hyps, refs), 'ROUGE-1': r.rouge1, 'ROUGE-2': r.rouge2, 'ROUGE-L': r.rougeL });
        }
      } finally {
        resident.dispose();
      }
      if (constrainedPath) {
        const exs = promptExamples(dataset, o.task, split, seed, o.maxUsers);
        const opts = { beams, returnSequences: Math.min(10, beams), maxLength, constrained: true, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}) };
        constrainedRuns.push(rankingTable(o.task, await constrainedPath.rankTargets(exs, opts)));
      }
      if (o.baseline === 'popular') {
        baselineRuns.push(rankingTable(o.task, popularRanks(dataset, promptExamples(dataset, o.task, split, seed, o.maxUsers))));
      }
      const shown = names.map((n) => `${n} ${perRun.at(-1)![n]!.toFixed(4)}`).join('  ');
      say(`run ${run + 1}/${runs} done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${shown}`);
    }
  } finally {
    backbone.dispose();
  }
  if (perRun.length === 0) throw new PaprecError('eval: interrupted before the first run finished; nothing to report');
  const report: EvalReport = {
    task: o.task,
    split,
    prompt: o.prompt,
    runsCompleted: perRun.length,
    examples,
    metrics: summarize(perRun, names),
    interrupted,
  };
  if (o.baseline === 'popular') report.baseline = { name: 'popular', metrics: summarize(baselineRuns, names) };
  if (constrainedPath) report.constrained = summarize(constrainedRuns.slice(0, perRun.length), names);
  // The table first: a failed --json write must not throw away what was computed.
  io.report?.(report);
  if (o.json) await writeFileAtomic(o.json, JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** The paper's table: one row per prompt (and the baseline), `mean ± std` per metric. */
export function formatEvalTable(r: EvalReport): string {
  const names = Object.keys(r.metrics);
  const cell = (s: MetricSummary) => `${s.mean.toFixed(4)} ± ${s.std.toFixed(4)}`;
  const rows: string[][] = [['prompt', ...names], [r.prompt, ...names.map((n) => cell(r.metrics[n]!))]];
  if (r.constrained) rows.push([`${r.prompt} (constrained)`, ...names.map((n) => cell(r.constrained![n]!))]);
  if (r.baseline) rows.push(['popular', ...names.map((n) => cell(r.baseline!.metrics[n]!))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c]!)).join('  ');
  const head = `${r.task} / ${r.split}: ${r.examples} examples, ${r.runsCompleted} run(s)${r.interrupted ? ' (interrupted)' : ''}`;
  return [head, line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

interface EvalArgs {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  prompt: string;
  split: Split;
  runs: number;
  beams: number;
  'max-length': number;
  'max-users'?: number;
  device: string;
  dtype: CliDtype;
  baseline?: 'popular';
  seed?: number;
  'batch-size'?: number;
  streams?: number;
  json?: string;
  constrained: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: "Evaluate a prompt on the test (or validation) split: the paper's table, mean ± std over runs",
  builder: (y: Argv) =>
    y
      .option('data', { type: 'string', demandOption: true, describe: 'P5 data folder' })
      .option('model', { type: 'string', demandOption: true, describe: 'checkpoint (HF folder, .safetensors or P5 .pth)' })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'tokenizer.json or spiece.model' })
      .option('task', { choices: TASKS, demandOption: true, describe: 'the P5 task' })
      .option('prompt', { type: 'string', demandOption: true, describe: 'seen | unseen (P5 prompts) | a prompt JSON file[#N]' })
      .option('split', { choices: ['val', 'test'] as const, default: 'test' as Split })
      .option('runs', { type: 'number', default: 5, describe: 'runs with different rendering seeds' })
      .option('beams', { type: 'number', default: 20, describe: 'beam width (top-10 outputs are ranked)' })
      .option('max-length', { type: 'number', default: 50, describe: 'generation length incl. the start token' })
      .option('max-users', { type: 'number', describe: 'only users 1..N (quick runs)' })
      .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
      .option('dtype', dtypeOption)
      .option('baseline', { choices: ['popular'] as const, describe: 'also rank by training popularity' })
      .option('seed', { type: 'number', describe: 'base rendering seed (default: the dataset seed)' })
      .option('batch-size', { type: 'number', describe: 'examples per engine batch (default 32)' })
      .option('streams', { type: 'number', describe: 'engine shards / CUDA streams' })
      .option('json', { type: 'string', describe: 'write the report as JSON to this file' })
      .option('constrained', { type: 'boolean', default: false, describe: 'also decode constrained to valid items; both rows side by side' }) as unknown as Argv<EvalArgs>,
  handler: async (args) => {
    let stop = false;
    const onSigint = () => {
      if (stop) process.exit(130); // second Ctrl-C: leave now
      stop = true;
      process.stderr.write('\npaprec eval: stopping after the run in flight (Ctrl-C again to quit now)\n');
    };
    process.on('SIGINT', onSigint);
    try {
      await runEval(
        {
          data: args.data,
          model: args.model,
          tokenizer: args.tokenizer,
          task: args.task,
          prompt: args.prompt,
          split: args.split,
          runs: args.runs,
          beams: args.beams,
          maxLength: args['max-length'],
          device: args.device,
          dtype: args.dtype,
          ...(args['max-users'] !== undefined ? { maxUsers: args['max-users'] } : {}),
          ...(args.baseline ? { baseline: args.baseline } : {}),
          ...(args.seed !== undefined ? { seed: args.seed } : {}),
          ...(args['batch-size'] !== undefined ? { batchSize: args['batch-size'] } : {}),
          ...(args.streams !== undefined ? { streams: args.streams } : {}),
          ...(args.json ? { json: args.json } : {}),
          ...(args.constrained ? { constrained: true } : {}),
        },
        {
          progress: (l) => process.stderr.write(`${l}\n`),
          shouldStop: () => stop,
          report: (r) => process.stdout.write(formatEvalTable(r) + '\n'),
        },
      );
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
