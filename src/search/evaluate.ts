/**
 * The test protocol of the paper's tables (REFERENCE.md §4): every prompt on the test split, beam 20 returning 10
 * for ranking tasks, R runs that differ by the rendering seed (the history joiner), per-example scores kept so the
 * report's paired t-test can pair users.
 */
import type { Dataset, Task, Tokenizer } from '../types.js';
import type { Prompt } from '../prompts/types.js';
import { buildExampleSet } from '../prompts/exampleSet.js';
import { bleu4, hitRatePerExample, ndcgPerExample, rougePerExample } from '../metrics/index.js';
import type { PromptResult, RunResult } from '../report/index.js';
import { decodeRows, type EngineOps } from './backend.js';
import { RANKING_MAX_LENGTH, TEST_BEAMS, TEST_RETURN } from './objective.js';
import type { Assignment } from './types.js';

export interface PromptUnderTest {
  kind: string;
  prompt: Prompt;
  /** Shown in report.json (template text or trigger pieces). */
  text?: string;
}

export interface EvaluatePromptsOptions {
  ops: EngineOps;
  dataset: Dataset;
  tokenizer: Tokenizer;
  task: Task;
  prompts: readonly PromptUnderTest[];
  /** Number of runs R; run r renders with seed `seed + r - 1`. */
  runs: number;
  seed: number;
  maxUsers?: number;
  /** Explanation: generation length and beams (one returned sequence). */
  maxLength: number;
  explanationBeams: number;
  onProgress?: (e: { run: number; runs: number; kind: string }) => void;
  shouldStop?: () => boolean;
}

export function metricNames(task: Task): string[] {
  if (task === 'explanation') return ['BLEU-4', 'ROUGE-1', 'ROUGE-2', 'ROUGE-L'];
  return [...(task === 'matching' ? ['HR@1'] : []), 'HR@5', 'NDCG@5', 'HR@10', 'NDCG@10'];
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length === 0 ? 0 : s / xs.length;
}

/** Test metrics of target ranks: the table's values and the per-example scores behind them. */
export function rankingRun(task: Task, ranks: Int32Array): Pick<RunResult, 'metrics' | 'perExample'> {
  const metrics: Record<string, number> = {};
  const perExample: Record<string, number[]> = {};
  for (const name of metricNames(task)) {
    const [kind, at] = name.split('@') as [string, string];
    const per = kind === 'HR' ? hitRatePerExample(ranks, Number(at)) : ndcgPerExample(ranks, Number(at));
    metrics[name] = mean(per);
    perExample[name] = Array.from(per);
  }
  return { metrics, perExample };
}

/** BLEU-4 is a corpus statistic (runs-paired test only); ROUGE keeps per-example scores. */
export function explanationRun(hypotheses: string[], references: string[]): Pick<RunResult, 'metrics' | 'perExample'> {
  const r = rougePerExample(hypotheses, references);
  return {
    metrics: { 'BLEU-4': bleu4(hypotheses, references), 'ROUGE-1': mean(r.rouge1), 'ROUGE-2': mean(r.rouge2), 'ROUGE-L': mean(r.rougeL) },
    perExample: { 'ROUGE-1': Array.from(r.rouge1), 'ROUGE-2': Array.from(r.rouge2), 'ROUGE-L': Array.from(r.rougeL) },
  };
}

export function assignmentOfPrompt(p: Prompt): Assignment {
  if (p.type === 'manual') return { taskTokens: new Int32Array(0) };
  return { taskTokens: p.taskTokens, ...(p.userTokens ? { userTokens: p.userTokens } : {}) };
}

/** Every prompt x every run on the test split; returns the report rows in the order given. */
export async function evaluatePrompts(o: EvaluatePromptsOptions): Promise<PromptResult[]> {
  const results: PromptResult[] = o.prompts.map((p) => ({ kind: p.kind, ...(p.text !== undefined ? { prompt: p.text } : {}), runs: [] as RunResult[] }));
  for (let run = 1; run <= o.runs; run++) {
    for (let i = 0; i < o.prompts.length; i++) {
      if (o.shouldStop?.()) throw new Error('interrupted');
      const p = o.prompts[i]!;
      o.onProgress?.({ run, runs: o.runs, kind: p.kind });
      const set = buildExampleSet(o.dataset, o.tokenizer, {
        task: o.task,
        split: 'test',
        prompt: p.prompt,
        seed: o.seed + run - 1,
        ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}),
      });
      const resident = await o.ops.upload(set);
      try {
        const ranking = o.task !== 'explanation';
        const [out] = await resident.evaluate([assignmentOfPrompt(p.prompt)], {
          numBeams: ranking ? TEST_BEAMS : o.explanationBeams,
          numReturnSequences: ranking ? TEST_RETURN : 1,
          maxLength: ranking ? RANKING_MAX_LENGTH : o.maxLength,
          ranking,
        });
        const scores = ranking ? rankingRun(o.task, out!) : explanationRun(decodeRows(out!, set.size, o.tokenizer), set.references ?? []);
        (results[i]!.runs as RunResult[]).push({ run, ...scores });
      } finally {
        resident.dispose();
      }
    }
  }
  return results;
}
