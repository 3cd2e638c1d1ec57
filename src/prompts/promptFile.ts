/**
 * A searched prompt from a file: `paprec search`'s prompt.json (`FILE` for its first entry, `FILE#N` for entry N;
 * 0 = the non-personalized row) or a bare `{task?, taskTokens, userTokens?, placement?, userPosition?}` with ids
 * (arrays of numbers, or {ids}). prompt.json does not record where [T_u] sits in the trigger block; the search's
 * state.json beside it does. A soft prompt (`paprec soft-prompt`'s soft.json: `embeddings` + `projection`) is read
 * as its continuous embeddings (`FILE`, only where the caller evaluates them: `soft: true`) or as its nearest-token
 * projection, a discrete prompt (`FILE#projected`). The one reader of prompt files (`paprec eval`, `recommend`,
 * `serve`, `search --init`).
 */
import * as path from 'node:path';
import type { Task, Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { exists, readFileOrFail } from '../util/fs.js';
import { automatedPrompt } from './automated.js';
import type { AutomatedPrompt, Placement, UserTokenPosition } from './types.js';

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

export interface PromptFileOptions {
  /** The task the caller runs: a file for another task is refused. */
  task?: Task;
  /** Size the personalized table to this many users (users the file does not list get the default token). */
  numUsers?: number;
  /** The caller evaluates soft prompts' embeddings (`paprec eval`); elsewhere a soft file needs `#projected`. */
  soft?: boolean;
}

/** A soft prompt file's embeddings as [rows * dModel] floats: every row dModel finite numbers. */
function softEmbeddings(rows: unknown, length: number, where: string): Float32Array {
  if (!Array.isArray(rows) || rows.length !== length) fail(where, `embeddings: expected ${length} rows (one per task slot), got ${Array.isArray(rows) ? rows.length : typeof rows}`);
  const d = Array.isArray(rows[0]) ? rows[0].length : 0;
  const out = new Float32Array(length * d);
  rows.forEach((row: unknown, r: number) => {
    if (!Array.isArray(row) || row.length !== d || d === 0) fail(where, `embeddings[${r}]: expected ${d || 'a non-empty list of'} numbers (every row the same length, dModel)`);
    row.forEach((v: unknown, c: number) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `embeddings[${r}][${c}] = ${JSON.stringify(v)} is not a finite number`);
      out[r * d + c] = v as number;
    });
  });
  return out;
}

/** `paprec soft-prompt`'s file: the soft prompt (its embeddings over the projection's rendering) or its projection. */
function softPrompt(json: Record<string, any>, file: string, projected: boolean, tokenizer: Tokenizer, o: PromptFileOptions): AutomatedPrompt {
  const where = `${file}${projected ? '#projected' : ''}`;
  const task = json.task as Task;
  if (typeof task !== 'string') fail(where, 'no "task"');
  if (o.task !== undefined && task !== o.task) fail(where, `the prompt is for task ${task}, the run is ${o.task}`);
  const ids = idList(json.projection?.taskTokens);
  if (!ids || ids.length === 0 || ids.some((t) => !Number.isInteger(t))) fail(where, 'projection.taskTokens: expected an array of token ids');
  if (!projected && !o.soft) fail(file, 'holds a soft prompt (continuous embeddings), which only `paprec eval` evaluates; use FILE#projected for its nearest-token projection');
  const placement = json.placement as Placement | undefined;
  if (placement !== undefined && placement !== 'suffix' && placement !== 'prefix') fail(where, `placement must be suffix or prefix, got ${String(placement)}`);
  let prompt: AutomatedPrompt;
  try {
    prompt = automatedPrompt(tokenizer, { task, taskTokens: ids as number[], ...(placement ? { placement } : {}) });
  } catch (err) {
    return fail(where, (err as Error).message);
  }
  return projected ? prompt : { ...prompt, slotEmbeddings: softEmbeddings(json.embeddings, ids.length, where) };
}

/**
 * One entry of a prompt file as a prompt. A personalized entry's table covers the users it lists (up to the largest,
 * or `numUsers`); every other user gets the default token.
 */
export async function readPromptFile(spec: string, tokenizer: Tokenizer, o: PromptFileOptions = {}): Promise<AutomatedPrompt> {
  const hash = spec.lastIndexOf('#');
  const file = hash > 0 ? spec.slice(0, hash) : spec;
  const projected = hash > 0 && spec.slice(hash + 1) === 'projected';
  const index = hash > 0 && !projected ? Number(spec.slice(hash + 1)) : 0;
  if (!Number.isInteger(index) || index < 0) fail(spec, `"#${spec.slice(hash + 1)}" is not an entry number (FILE#0, FILE#1, ...) or #projected`);
  const json = parseJson((await readFileOrFail(file, 'prompt file')).toString('utf8'), file);
  if (json?.embeddings !== undefined) return softPrompt(json, file, projected, tokenizer, o);
  if (projected) fail(spec, '#projected names the projection of a soft prompt file (paprec soft-prompt), and this file holds none');
  const entries: unknown[] = Array.isArray(json?.prompts) ? json.prompts : [json];
  const where = `${file}#${index}`;
  const p = entries[index] as Record<string, any> | undefined;
  if (!p || typeof p !== 'object') fail(file, `no prompt #${index} (the file has ${entries.length})`);
  const task = (p.task ?? json.task ?? o.task) as Task;
  if (typeof task !== 'string') fail(where, 'no "task" (sequential, explanation or matching)');
  if (o.task !== undefined && task !== o.task) fail(where, `the prompt is for task ${task}, the run is ${o.task}`);
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
    const numUsers = o.numUsers ?? Math.max(1, ...pairs.map(([u]: readonly [number, number]) => u));
    const table = automatedPrompt(tokenizer, { task, taskTokens: taskTokens as number[], personalized: true, numUsers }).userTokens!;
    for (const [u, id] of pairs) if (u <= numUsers) table[u - 1] = id;
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
