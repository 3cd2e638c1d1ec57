/**
 * The prompt a Recommender applies: a manual P5 template by id (`2-3`, `5-7`, ...) or a searched prompt from a
 * `paprec search` folder's prompt.json (`FILE`, or `FILE#N` for its N-th entry; read by src/prompts/promptFile.ts).
 */
import type { Task, Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { exists } from '../util/fs.js';
import { MANUAL_PROMPTS, manualPrompt, type Prompt } from '../prompts/index.js';
import { readPromptFile } from '../prompts/promptFile.js';

/** The tasks a Recommender serves: both rank items (explanation generates text). */
export const RECOMMEND_TASKS: readonly Task[] = ['sequential', 'matching'];

function checkTask(prompt: Prompt, where: string): Prompt {
  if (!RECOMMEND_TASKS.includes(prompt.task)) {
    fail(where, `the ${prompt.task} task generates text, not items; recommend takes a sequential or matching prompt`);
  }
  return prompt;
}

/** `2-3` / `5-7` (a manual template id) or a prompt.json path (`FILE` or `FILE#N`). */
export async function loadRecommendPrompt(spec: string, tokenizer: Tokenizer): Promise<Prompt> {
  if (MANUAL_PROMPTS.some((p) => p.id === spec)) return checkTask(manualPrompt(spec), `prompt ${spec}`);
  const file = spec.lastIndexOf('#') > 0 ? spec.slice(0, spec.lastIndexOf('#')) : spec;
  if (!exists(file)) {
    const ids = MANUAL_PROMPTS.filter((p) => RECOMMEND_TASKS.includes(p.task)).map((p) => p.id);
    fail(spec, `neither a manual prompt id (${ids.join(', ')}) nor an existing prompt file`);
  }
  return checkTask(await readPromptFile(spec, tokenizer), spec);
}
