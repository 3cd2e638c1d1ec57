/**
 * The popularity baseline as a row of a search's table: the same test examples, the same runs (rendering seeds),
 * per-example scores in the same order as the prompts' rows, so the report's paired t-test can pair them.
 */
import { popularRanks } from '../baselines/popular.js';
import { promptExamples } from '../prompts/examples.js';
import { rankingMeasure } from '../protocol/measure.js';
import type { PromptResult, RunResult } from '../report/index.js';
import type { Dataset, Task } from '../types.js';

export const POPULAR_KIND = 'popular (baseline)';

export function popularRow(dataset: Dataset, task: Task, o: { runs: number; seed: number; maxUsers?: number }): PromptResult {
  const runs: RunResult[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const examples = promptExamples(dataset, task, 'test', o.seed + run - 1, o.maxUsers);
    runs.push({ run, ...rankingMeasure(task, popularRanks(dataset, examples)) });
  }
  return { kind: POPULAR_KIND, manual: false, prompt: 'items ranked by training-split popularity', runs };
}

/** The table's rows with the baseline right after the manual prompts. */
export function withPopularRow(prompts: readonly PromptResult[], row: PromptResult): PromptResult[] {
  const rest = prompts.filter((p) => p.kind !== POPULAR_KIND);
  const lastManual = rest.reduce((at, p, i) => ((p.manual ?? p.kind.endsWith('manual')) ? i : at), -1);
  return [...rest.slice(0, lastManual + 1), row, ...rest.slice(lastManual + 1)];
}
