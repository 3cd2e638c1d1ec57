/**
 * Rendering one example under a prompt: input ids (text tokens, then the trigger slots, then `</s>`), the slot
 * positions inside the row, and the target ids. Slot ids come from the prompt, so one rendering serves every
 * candidate token: the engine overwrites the ids at the slot positions.
 */
import { EOS_ID } from '../types.js';
import { fail } from '../errors.js';
import { slotsPerRow, taskArgText } from './automated.js';
import type { SegmentEncoder } from './segmentEncoder.js';
import type { AutomatedPrompt, ManualPrompt, Prompt, PromptExample } from './types.js';

export interface RenderedRow {
  inputIds: number[];
  /** Task slots first, then the user slot; empty for manual prompts. */
  slotPositions: number[];
}

/** P5 formats ratings with int(): a 4.0 star review reads `4-star`. */
function ratingText(r: number | undefined): string {
  if (r === undefined) fail('prompt', 'this template needs a rating, the example has none');
  return String(Math.trunc(r));
}

/** Fills a manual template. A missing title falls back to `item_{i}` (the Amazon folders here ship no titles). */
export function manualText(prompt: ManualPrompt, ex: PromptExample): string {
  return prompt.template.replace(/\{(\w+)\}/g, (_, name: string) => {
    switch (name) {
      case 'user':
        return String(ex.user);
      case 'history':
        return (ex.history ?? []).join(ex.joiner);
      case 'candidates':
        return (ex.candidates ?? []).join(' , ');
      case 'item':
        return String(ex.item);
      case 'title':
        return ex.title ?? `item_${ex.item}`;
      case 'rating':
        return ratingText(ex.rating);
      default:
        return fail(`prompt ${prompt.id}`, `unknown placeholder {${name}}`);
    }
  });
}

/** The slot ids of one row in slot order (task slots, then the user slot). */
export function slotIds(prompt: AutomatedPrompt, user: number): number[] {
  const ids = Array.from(prompt.taskTokens);
  if (prompt.userTokens) {
    const t = prompt.userTokens[user - 1];
    if (t === undefined) fail('prompt', `user ${user} is outside the per-user table (${prompt.userTokens.length} users)`);
    ids.push(t);
  }
  return ids;
}

function renderAutomated(enc: SegmentEncoder, prompt: AutomatedPrompt, ex: PromptExample): RenderedRow {
  const l = prompt.taskTokens.length;
  const slots = slotIds(prompt, ex.user);
  // Block order: the user slot at the start or the end of the trigger block; slotPositions stays task-first.
  const blockOrder: number[] = [];
  if (prompt.userTokens && prompt.userPosition === 'start') blockOrder.push(l);
  for (let r = 0; r < l; r++) blockOrder.push(r);
  if (prompt.userTokens && prompt.userPosition === 'end') blockOrder.push(l);

  const inputIds: number[] = [];
  const slotPositions = new Array<number>(slotsPerRow(prompt));
  const placeBlock = (): void => {
    for (const s of blockOrder) {
      slotPositions[s] = inputIds.length;
      inputIds.push(slots[s]!);
    }
  };
  if (prompt.placement === 'prefix') placeBlock();
  enc.encodeInto(taskArgText(prompt.task, ex), inputIds);
  if (prompt.placement === 'suffix') placeBlock();
  inputIds.push(EOS_ID);
  return { inputIds, slotPositions };
}

export function renderExample(enc: SegmentEncoder, prompt: Prompt, ex: PromptExample): RenderedRow {
  if (prompt.task !== ex.task) fail('prompt', `a ${prompt.task} prompt cannot render a ${ex.task} example`);
  if (prompt.type === 'automated') return renderAutomated(enc, prompt, ex);
  return { inputIds: enc.encodeWithEos(manualText(prompt, ex)), slotPositions: [] };
}

/** The input as text, slots shown as `[piece]` (for debugging and reports). */
export function renderedText(prompt: Prompt, ex: PromptExample, pieceOf: (id: number) => string | undefined): string {
  if (prompt.type === 'manual') return manualText(prompt, ex);
  const slot = (id: number): string => `[${pieceOf(id) ?? id}]`;
  const ids = slotIds(prompt, ex.user);
  const l = prompt.taskTokens.length;
  const block = ids.slice(0, l).map(slot);
  if (prompt.userTokens) {
    if (prompt.userPosition === 'start') block.unshift(slot(ids[l]!));
    else block.push(slot(ids[l]!));
  }
  const arg = taskArgText(prompt.task, ex);
  return prompt.placement === 'prefix' ? `${block.join('')} ${arg}` : `${arg} ${block.join('')}`;
}
