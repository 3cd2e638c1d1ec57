/**
 * PAP-REC's automated prompt (paper §3.1, REFERENCE.md §4): `{task arg}[T_r1]..[T_rl][T_u]` then `</s>`.
 * The trigger tokens are ids, not text: the search swaps them without re-rendering any example.
 */
import type { Task, Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import type { AutomatedPrompt, Placement, UserTokenPosition } from './types.js';

export interface AutomatedPromptOptions {
  task: Task;
  /** l, the number of task tokens [T_r] (default 5, the paper's). */
  length?: number;
  /** Add the user-specific token [T_u]; needs `numUsers`. */
  personalized?: boolean;
  /** Number of users of the data set (size of the per-user table). */
  numUsers?: number;
  placement?: Placement;
  userPosition?: UserTokenPosition;
  /** Initial [T_r] ids (length l); by default every slot starts as the default user token, `?`. */
  taskTokens?: ArrayLike<number>;
  /** Initial per-user table (length numUsers); by default every user starts with the default token. */
  userTokens?: ArrayLike<number>;
}

/** Whether `id` opens a new whole word (the tokenizer's own rule, read through wholeWordIds). */
function isWordStart(tokenizer: Tokenizer, id: number): boolean {
  return tokenizer.wholeWordIds([id])[0] === 1;
}

/**
 * The id of `?` as a word start, the paper's initial [T_u] (also paprec's initial [T_r]). T5's vocabulary has no
 * `▁?` piece (it writes ` ?` as `▁` + `?`), so when `▁?` is missing this falls back to the first word-start piece
 * of the encoding of `?`: for T5 the bare `▁` (id 3), the piece that opens the word `?` in every P5 prompt.
 * A slot must hold a word start, or its whole-word id would merge it into the previous word. The bare `▁` is not
 * a search candidate (wordStartMask leaves it out), so it is accepted in slots only as this default.
 */
export function defaultUserToken(tokenizer: Tokenizer): number {
  const direct = tokenizer.pieceToId('\u2581?');
  if (direct !== undefined && isWordStart(tokenizer, direct)) return direct;
  for (const id of tokenizer.encode('?', { addEos: false })) if (isWordStart(tokenizer, id)) return id;
  return fail('prompt', 'the tokenizer has no word-start piece for "?" (neither "\u2581?" nor a bare "\u2581"); pass explicit tokens');
}

/** Slot ids must be search candidates (word-start pieces, no specials) or the default token. */
function checkSlotIds(ids: ArrayLike<number>, mask: Uint8Array, def: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= mask.length) fail('prompt', `${what}[${i}] = ${id} is not a token id (vocab ${mask.length})`);
    if (mask[id] !== 1 && id !== def) fail('prompt', `${what}[${i}] = ${id} is not a word-start piece, so it cannot fill a trigger slot`);
  }
}

export function automatedPrompt(tokenizer: Tokenizer, opts: AutomatedPromptOptions): AutomatedPrompt {
  const length = opts.taskTokens?.length ?? opts.length ?? 5;
  if (!Number.isInteger(length) || length < 1) fail('prompt', `the automated prompt needs l >= 1 task tokens, got ${length}`);
  if (opts.taskTokens && opts.length !== undefined && opts.length !== opts.taskTokens.length) {
    fail('prompt', `length ${opts.length} but ${opts.taskTokens.length} task tokens given`);
  }
  const mask = tokenizer.wordStartMask();
  const def = defaultUserToken(tokenizer);
  const taskTokens = opts.taskTokens ? Int32Array.from(opts.taskTokens) : new Int32Array(length).fill(def);
  checkSlotIds(taskTokens, mask, def, 'taskTokens');

  let userTokens: Int32Array | undefined;
  if (opts.personalized) {
    const n = opts.numUsers ?? opts.userTokens?.length;
    if (n === undefined || !Number.isInteger(n) || n < 1) fail('prompt', 'a personalized prompt needs numUsers >= 1');
    if (opts.userTokens && opts.userTokens.length !== n) fail('prompt', `numUsers ${n} but ${opts.userTokens.length} user tokens given`);
    userTokens = opts.userTokens ? Int32Array.from(opts.userTokens) : new Int32Array(n).fill(def);
    checkSlotIds(userTokens, mask, def, 'userTokens');
  } else if (opts.userTokens) {
    fail('prompt', 'userTokens given for a non-personalized prompt');
  }

  return {
    type: 'automated',
    task: opts.task,
    placement: opts.placement ?? 'suffix',
    userPosition: opts.userPosition ?? 'end',
    taskTokens,
    ...(userTokens ? { userTokens } : {}),
    defaultUserToken: def,
  };
}

/** A copy of `prompt` with task slot `slot` set to `id` (the search's accepted replacement). */
export function withTaskToken(prompt: AutomatedPrompt, slot: number, id: number): AutomatedPrompt {
  if (!Number.isInteger(slot) || slot < 0 || slot >= prompt.taskTokens.length) {
    fail('prompt', `task slot ${slot} is outside 0..${prompt.taskTokens.length - 1}`);
  }
  const taskTokens = prompt.taskTokens.slice();
  taskTokens[slot] = id;
  return { ...prompt, taskTokens };
}

/** A copy of a personalized `prompt` with a new per-user table. */
export function withUserTokens(prompt: AutomatedPrompt, userTokens: Int32Array): AutomatedPrompt {
  if (!prompt.userTokens) fail('prompt', 'withUserTokens on a non-personalized prompt');
  if (userTokens.length !== prompt.userTokens.length) {
    fail('prompt', `user table has ${userTokens.length} entries, expected ${prompt.userTokens.length}`);
  }
  return { ...prompt, userTokens: userTokens.slice() };
}

/** Slots per row: the l task slots, then [T_u] when personalized. */
export function slotsPerRow(prompt: AutomatedPrompt): number {
  return prompt.taskTokens.length + (prompt.userTokens ? 1 : 0);
}

/**
 * `{task arg}` text: the task's arguments separated by colons. Explanation keeps the user and item ids (the
 * research code dropped them, a defect per REFERENCE.md §7) and adds the title, or `item_{i}` again without one.
 */
export function taskArgText(task: Task, ex: { user: number; history?: readonly number[]; candidates?: readonly number[]; item?: number; title?: string; joiner: string }): string {
  switch (task) {
    case 'sequential':
      return `user_${ex.user} : \n ${(ex.history ?? []).join(ex.joiner)} \n`;
    case 'matching':
      return `user_${ex.user} : \n ${(ex.candidates ?? []).join(' , ')} \n`;
    case 'explanation':
      return `user_${ex.user} : item_${ex.item} : ${ex.title ?? `item_${ex.item}`}`;
  }
}
