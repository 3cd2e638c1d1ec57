/**
 * Two more kinds of demo rows (issue #18 items 1 and 2), measured on the same test examples and runs as the search's
 * table, so the report's paired tests pair them with the other rows:
 * - matching: the manual and found prompts decoded constrained to the row's listed candidates (every output is one
 *   of them), next to the paper's unconstrained protocol (`paprec eval --constrained`);
 * - explanation: the personalized search again with `--user-accept last-train` (a user's token is accepted when it
 *   raises that user's score on its last training example, so validation stays held out), next to the paper's per-user acceptance (Eq. 11).
 */
import * as path from 'node:path';
import { Backbone } from '../backbone/index.js';
import { loadDataset } from '../data/index.js';
import { baselinePrompt, promptExamples, type Prompt } from '../prompts/index.js';
import { readPromptFile } from '../prompts/promptFile.js';
import { evaluatePrompts } from '../protocol/index.js';
import { rankingMeasure } from '../protocol/measure.js';
import { Recommender } from '../recommend/index.js';
import type { PromptResult, RunResult } from '../report/index.js';
import { runSearch, searchTestDecoding, type RunSearchInput } from '../search/run.js';
import { loadState } from '../search/state.js';
import { loadTokenizer } from '../tokenizer/index.js';

export const CONSTRAINED_SUFFIX = ', constrained to the candidates';
export const CHECKED_KIND = 'personalized, accepted on last training example';

interface Inputs {
  dataDir: string;
  tokenizerPath: string;
  modelDir: string;
}

/** Matching: the seen / unseen manual and the found prompts of the search in `dir`, decoded constrained to each row's candidates. */
export async function constrainedRows(dir: string, inputs: Inputs, device: string): Promise<PromptResult[]> {
  const o = (await loadState(dir)).options;
  const users = o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {};
  const tokenizer = await loadTokenizer(inputs.tokenizerPath);
  const dataset = await loadDataset(inputs.dataDir, users);
  const file = path.join(dir, 'prompt.json');
  const prompts: Array<{ kind: string; prompt: Prompt }> = [
    { kind: 'seen manual', prompt: baselinePrompt({ task: o.task, kind: 'seen' }) },
    { kind: 'non-personalized', prompt: await readPromptFile(`${file}#0`, tokenizer, { task: o.task, numUsers: dataset.users.length }) },
  ];
  if (o.personalized) prompts.push({ kind: 'personalized', prompt: await readPromptFile(`${file}#1`, tokenizer, { task: o.task, numUsers: dataset.users.length }) });
  const d = searchTestDecoding(o);
  const backbone = await Backbone.load(inputs.modelDir, { device });
  try {
    const rows: PromptResult[] = [];
    for (const p of prompts) {
      const rec = new Recommender({ backbone, tokenizer, prompt: p.prompt, dataset });
      const runs: RunResult[] = [];
      for (let run = 1; run <= o.runs; run++) {
        const examples = promptExamples(dataset, o.task, 'test', o.seed + run - 1, o.maxUsers);
        const ranks = await rec.rankTargets(examples, { beams: d.numBeams, returnSequences: d.numReturnSequences, maxLength: d.maxLength, constrained: true });
        runs.push({ run, ...rankingMeasure(o.task, ranks) });
      }
      rows.push({ kind: `${p.kind}${CONSTRAINED_SUFFIX}`, manual: false, prompt: `${p.kind}, outputs limited to the listed candidates`, runs });
    }
    return rows;
  } finally {
    await backbone.dispose();
  }
}

/**
 * The search of `dir` run again into `checkDir` with `--user-accept last-train` (no test table of its own), and its
 * personalized prompt measured on the test split by the same protocol as the table's other rows.
 */
export async function userCheckRow(dir: string, checkDir: string, search: Omit<RunSearchInput, 'out'>, inputs: Inputs, device: string): Promise<PromptResult | undefined> {
  const r = await runSearch({ ...search, out: checkDir, userAccept: 'last-train', skipTest: true });
  if (r.interrupted) return undefined;
  const o = (await loadState(dir)).options;
  const users = o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {};
  const tokenizer = await loadTokenizer(inputs.tokenizerPath);
  const dataset = await loadDataset(inputs.dataDir, users);
  const prompt = await readPromptFile(`${path.join(checkDir, 'prompt.json')}#1`, tokenizer, { task: o.task, numUsers: dataset.users.length });
  const backbone = await Backbone.load(inputs.modelDir, { device });
  try {
    const t = await evaluatePrompts(
      { backbone, dataset, tokenizer, task: o.task, split: 'test', runs: o.runs, seed: o.seed, decoding: searchTestDecoding(o), ...users },
      [{ kind: CHECKED_KIND, prompt }],
    );
    return { ...t.rows[0]!, manual: false, prompt: `${path.basename(checkDir)}/prompt.json#1: per-user acceptance judged on each user's last training example` };
  } finally {
    await backbone.dispose();
  }
}
