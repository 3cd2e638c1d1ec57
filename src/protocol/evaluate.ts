/**
 * The test protocol run (REFERENCE.md §4): prompts on a split, R runs that differ only by the rendering seed (run r
 * renders with seed + r - 1: history joiners), every run decoded as `decoding` says, the per-example scores kept so
 * the report's paired tests can pair users. `paprec eval`, a search's test report and the demo all measure here.
 */
import type { Dataset, Split, Task, Tokenizer } from '../types.js';
import type { Prompt } from '../prompts/types.js';
import { buildExampleSet } from '../prompts/exampleSet.js';
import type { Backbone } from '../backbone/index.js';
import { ResidentExampleSet, type Assignment } from '../engine/index.js';
import type { PromptResult, RunResult } from '../report/index.js';
import type { Decoding } from './decoding.js';
import { decodeTexts, testMeasure, type RowOutcomes, type TestMeasure } from './measure.js';
import type { ProcessGroup } from '../dist/group.js';
import { gatherRows, localAssignment, localExampleSet, rankUsers, shardRows } from '../dist/shard.js';

export interface PromptUnderTest {
  /** The table row's name. */
  kind: string;
  prompt: Prompt;
  /** Shown in report.json (template text or trigger pieces). */
  text?: string;
}

/** Where and how: the same for every prompt of a table. */
export interface ProtocolOptions {
  backbone: Backbone;
  dataset: Dataset;
  tokenizer: Tokenizer;
  task: Task;
  split: Split;
  /** Number of runs R; run r (1-based) renders with seed `seed + r - 1`. */
  runs: number;
  seed: number;
  maxUsers?: number;
  decoding: Decoding;
  batchSize?: number;
  streams?: number;
  /** After each prompt's run. */
  onRun?: (e: { run: number; runs: number; kind: string; examples: number; seconds: number; metrics: Record<string, number> }) => void;
  /** Checked before every run: a stopped evaluation keeps its finished runs (distributed: agreed by every rank). */
  shouldStop?: () => boolean | Promise<boolean>;
  /** Distributed: users sharded by rank, each rank decodes its users' rows, the outcomes gathered (src/dist). */
  group?: ProcessGroup;
}

export interface ProtocolResult {
  /** One row per prompt, in the order given, with the finished runs. */
  rows: PromptResult[];
  runsCompleted: number;
  /** Examples per run (the same for every prompt and run). */
  examples: number;
  interrupted: boolean;
}

/** The slot tokens an engine pass splices into a prompt's rendered rows (none for a manual prompt). */
export function assignmentOfPrompt(p: Prompt, numUsers?: number): Assignment {
  if (p.type === 'manual') return { taskTokens: new Int32Array(0) };
  return {
    taskTokens: p.taskTokens,
    ...(p.userTokens ? { userTokens: numUsers !== undefined ? p.userTokens.slice(0, numUsers) : p.userTokens } : {}),
    ...(p.slotEmbeddings ? { slotEmbeddings: p.slotEmbeddings } : {}), // a soft prompt's task-slot embeddings
  };
}

/** One prompt, one run: render, upload, decode, measure. */
export async function measurePrompt(o: ProtocolOptions, prompt: Prompt, seed: number): Promise<TestMeasure & { examples: number }> {
  const set = buildExampleSet(o.dataset, o.tokenizer, {
    task: o.task,
    split: o.split,
    prompt,
    seed,
    ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}),
  });
  const g = o.group;
  const shard = g ? shardRows(set.userIndex, g.world, g.rank) : undefined;
  const local = shard ? localExampleSet(set, shard) : set;
  const resident = local.size === 0 ? undefined : ResidentExampleSet.upload(o.backbone, local, {
    vocabLimit: o.tokenizer.vocabSize,
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.streams !== undefined ? { streams: o.streams } : {}),
  });
  try {
    const d = o.decoding;
    const assignment = assignmentOfPrompt(prompt, set.numUsers);
    let [out] = resident
      ? await resident.evaluate([g ? localAssignment(assignment, rankUsers(set.numUsers, g.world, g.rank)) : assignment], {
        numBeams: d.numBeams,
        numReturnSequences: d.numReturnSequences,
        maxLength: d.maxLength,
        outcome: d.outcome,
      })
      : [new Int32Array(0)];
    if (g && shard) [out] = await gatherRows(g, shard, [out!], d.outcome === 'ranks' ? 1 : d.maxLength - 1);
    const outcome: RowOutcomes = d.outcome === 'ranks' ? { kind: 'ranks', ranks: out! } : { kind: 'texts', texts: decodeTexts(out!, set.size, o.tokenizer) };
    return { ...testMeasure(o.task, outcome, set.references), examples: set.size };
  } finally {
    await resident?.dispose();
  }
}

/** Every prompt x every run; runs outermost, so a stop leaves whole runs of every row. */
export async function evaluatePrompts(o: ProtocolOptions, prompts: readonly PromptUnderTest[]): Promise<ProtocolResult> {
  const runs: RunResult[][] = prompts.map(() => []);
  let examples = 0;
  let interrupted = false;
  for (let run = 1; run <= o.runs; run++) {
    if (await o.shouldStop?.()) {
      interrupted = true;
      break;
    }
    for (const [i, p] of prompts.entries()) {
      const started = performance.now();
      const m = await measurePrompt(o, p.prompt, o.seed + run - 1);
      examples = m.examples;
      runs[i]!.push({ run, metrics: m.metrics, perExample: m.perExample });
      o.onRun?.({ run, runs: o.runs, kind: p.kind, examples, seconds: (performance.now() - started) / 1000, metrics: m.metrics });
    }
  }
  const rows = prompts.map((p, i) => ({ kind: p.kind, ...(p.text !== undefined ? { prompt: p.text } : {}), runs: runs[i]! }));
  return { rows, runsCompleted: runs[0]?.length ?? 0, examples, interrupted };
}
