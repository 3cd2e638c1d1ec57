/**
 * The prompt a Recommender applies: a manual P5 template by id (`2-3`, `5-7`, ...) or a searched prompt from a
 * `paprec search` folder's prompt.json (`FILE`, or `FILE#N` for its N-th entry; 0 = the non-personalized row).
 * prompt.json does not record where [T_u] sits in the trigger block; the search's state.json beside it does.
 */
import * as path from 'node:path';
import type { Task, Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { exists, readFileOrFail } from '../util/fs.js';
import { automatedPrompt, MANUAL_PROMPTS, manualPrompt, type Prompt } from '../prompts/index.js';
import type { Placement, UserTokenPosition } from '../prompts/types.js';

/** The tasks a Recommender serves: both rank items (explanation generates text). */
export const RECOMMEND_TASKS: readonly Task[] = ['sequential', 'matching'];

function checkTask(prompt: Prompt, where: string): Prompt {
  if (!RECOMMEND_TASKS.includes(prompt.task)) {
    fail(where, `the ${prompt.task} task generates text, not items; recommend takes a sequential or matching prompt`);
  }
  return prompt;
}

function parseJson(text: string, file: string): any {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(file, `not valid JSON (${(err as Error).message})`);
  }
}

/** [T_u]'s position from the search's state.json beside `file`, when there is one. */
async function searchedUserPosition(file: string): Promise<UserTokenPosition | undefined> {
  const state = path.join(path.dirname(file), 'state.json');
  if (!exists(state)) return undefined;
  const json = parseJson((await readFileOrFail(state, 'search state')).toString('utf8'), state);
  const pos = json?.options?.userPosition;
  return pos === 'start' || pos === 'end' ? pos : undefined;
}

function idList(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  const ids = (v as { ids?: unknown } | null)?.ids;
  return Array.isArray(ids) ? ids : undefined;
}

/**
 * One entry of a prompt.json as a prompt. A personalized entry's table covers the users it lists (up to the
 * largest); the Recommender gives every other user the default token.
 */
async function promptFromFile(spec: string, tokenizer: Tokenizer): Promise<Prompt> {
  const hash = spec.lastIndexOf('#');
  const file = hash > 0 ? spec.slice(0, hash) : spec;
  const index = hash > 0 ? Number(spec.slice(hash + 1)) : 0;
  if (!Number.isInteger(index) || index < 0) fail(spec, `"#${spec.slice(hash + 1)}" is not an entry number (FILE#0, FILE#1, ...)`);
  const json = parseJson((await readFileOrFail(file, 'prompt file')).toString('utf8'), file);
  const entries: unknown[] = Array.isArray(json?.prompts) ? json.prompts : [json];
  const where = `${file}#${index}`;
  const p = entries[index] as Record<string, any> | undefined;
  if (!p || typeof p !== 'object') fail(file, `no prompt #${index} (the file has ${entries.length})`);
  const task = (p.task ?? json.task) as Task;
  if (typeof task !== 'string') fail(where, 'no "task" (sequential or matching)');
  const taskTokens = idList(p.taskTokens);
  if (!taskTokens || taskTokens.some((t) => !Number.isInteger(t))) fail(where, 'taskTokens: expected an array of token ids (or {ids})');
  let userTokens: number[] | undefined;
  if (p.userTokens !== undefined) {
    if (!Array.isArray(p.userTokens)) fail(where, 'userTokens: expected a list of {user, id}');
    const pairs = p.userTokens.map((e: any, i: number) => {
      const user = typeof e === 'number' ? i + 1 : e?.user;
      const id = typeof e === 'number' ? e : e?.id;
      if (!Number.isInteger(user) || user < 1 || !Number.isInteger(id)) fail(where, `userTokens[${i}]: expected {user: positive integer, id: token id}`);
      return [user as number, id as number] as const;
    });
    const numUsers = Math.max(1, ...pairs.map(([u]: readonly [number, number]) => u));
    const table = automatedPrompt(tokenizer, { task, taskTokens: taskTokens as number[], personalized: true, numUsers }).userTokens!;
    for (const [u, id] of pairs) table[u - 1] = id;
    userTokens = Array.from(table);
  }
  const placement = p.placement as Placement | undefined;
  if (placement !== undefined && placement !== 'suffix' && placement !== 'prefix') fail(where, `placement must be suffix or prefix, got ${String(placement)}`);
  const userPosition = (p.userPosition as UserTokenPosition | undefined) ?? (userTokens ? await searchedUserPosition(file) : undefined);
  if (userPosition !== undefined && userPosition !== 'start' && userPosition !== 'end') fail(where, `userPosition must be start or end, got ${String(userPosition)}`);
  try {
    return automatedPrompt(tokenizer, {
      task,
      taskTokens: taskTokens as number[],
      ...(userTokens ? { personalized: true, numUsers: userTokens.length, userTokens } : {}),
      ...(placement ? { placement } : {}),
      ...(userPosition ? { userPosition } : {}),
    });
  } catch (err) {
    return fail(where, (err as Error).message);
  }
}

/** `2-3` / `5-7` (a manual template id) or a prompt.json path (`FILE` or `FILE#N`). */
export async function loadRecommendPrompt(spec: string, tokenizer: Tokenizer): Promise<Prompt> {
  if (MANUAL_PROMPTS.some((p) => p.id === spec)) return checkTask(manualPrompt(spec), `prompt ${spec}`);
  const file = spec.lastIndexOf('#') > 0 ? spec.slice(0, spec.lastIndexOf('#')) : spec;
  if (!exists(file)) {
    const ids = MANUAL_PROMPTS.filter((p) => RECOMMEND_TASKS.includes(p.task)).map((p) => p.id);
    fail(spec, `neither a manual prompt id (${ids.join(', ')}) nor an existing prompt file`);
  }
  return checkTask(await promptFromFile(spec, tokenizer), spec);
}
