/**
 * The soft-prompt rows of a demo table (issue #18 item 4): `paprec soft-prompt` on the task's training split, then the
 * soft prompt and its nearest-token projection measured on the test split by the search's own test protocol, as
 * `paprec eval --prompt soft.json` and `--prompt soft.json#projected` would measure them.
 */
import * as path from 'node:path';
import { Backbone } from '../backbone/index.js';
import { softPromptFile } from '../baselines/softPrompt.js';
import { loadDataset } from '../data/index.js';
import { readPromptFile } from '../prompts/promptFile.js';
import { evaluatePrompts } from '../protocol/index.js';
import type { PromptResult } from '../report/index.js';
import { searchTestDecoding } from '../search/run.js';
import { loadState } from '../search/state.js';
import { loadTokenizer } from '../tokenizer/index.js';

export const SOFT_KIND = 'soft prompt';
export const PROJECTED_KIND = 'soft prompt, projected';

/** Train the soft prompt of the search in `dir` (its task, l, seed and users) into dir/soft.json; its two test rows. */
export async function softPromptRows(dir: string, inputs: { dataDir: string; tokenizerPath: string; modelDir: string }, device: string): Promise<PromptResult[]> {
  const o = (await loadState(dir)).options;
  const file = path.join(dir, 'soft.json');
  const users = o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {};
  const tokenizer = await loadTokenizer(inputs.tokenizerPath);
  const dataset = await loadDataset(inputs.dataDir, users);
  const backbone = await Backbone.load(inputs.modelDir, { device });
  try {
    const soft = await softPromptFile({ backbone, dataset, tokenizer }, { task: o.task, out: file, length: o.lengths[0]!, seed: o.seed, ...users });
    const prompts = [
      { kind: SOFT_KIND, prompt: await readPromptFile(file, tokenizer, { task: o.task, soft: true }), text: `soft.json: ${soft.training.steps} Adam steps on the training loss` },
      { kind: PROJECTED_KIND, prompt: await readPromptFile(`${file}#projected`, tokenizer, { task: o.task }), text: `soft.json#projected: ${soft.projection.pieces.join(' ')}` },
    ];
    const r = await evaluatePrompts({ backbone, dataset, tokenizer, task: o.task, split: 'test', runs: o.runs, seed: o.seed, decoding: searchTestDecoding(o), ...users }, prompts);
    return r.rows.map((row) => ({ ...row, manual: false }));
  } finally {
    await backbone.dispose();
  }
}
