/**
 * P5's manual prompts (REFERENCE.md §3), word for word: they are the text P5 checkpoints were trained on, so a
 * single changed space or case changes the baseline. Plus paprec's own extra training templates in P5's style.
 */
import type { Task } from '../types.js';
import { fail } from '../errors.js';
import type { ManualPrompt, PromptKind } from './types.js';

function p5(id: string, task: Task, kind: PromptKind, template: string): ManualPrompt {
  return { type: 'manual', id, task, kind, template, fromP5: true };
}

function own(id: string, task: Task, template: string): ManualPrompt {
  return { type: 'manual', id, task, kind: 'seen', template, fromP5: false };
}

export const MANUAL_PROMPTS: readonly ManualPrompt[] = [
  p5('2-1', 'sequential', 'seen',
    'Given the following purchase history of user_{user} : \n {history} \n predict next possible item to be purchased by the user ?'),
  p5('2-3', 'sequential', 'seen',
    'Here is the purchase history list of user_{user} : \n {history} \n try to recommend next item to the user'),
  p5('2-13', 'sequential', 'unseen',
    'According to the purchase history of user_{user} : \n {history} \n Can you recommend the next possible item to the user ?'),
  p5('3-1', 'explanation', 'seen', 'Generate an explanation for user_{user} about this product : {title}'),
  p5('3-12', 'explanation', 'unseen', 'Generate a {rating}-star explanation for user_{user} about item_{item}'),
  p5('5-7', 'matching', 'seen',
    'Pick the most suitable item from the following list and recommend to user_{user} : \n {candidates}'),
  p5('5-8', 'matching', 'unseen',
    'We want to make recommendation for user_{user} .  Select the best item from these candidates : \n {candidates}'),
  // paprec's additions for backbone pretraining: P5's phrasing habits (spaced punctuation, `user_{}`, ` \n `),
  // new wording so the pretrained model does not depend on one sentence.
  own('x2-1', 'sequential', 'user_{user} has bought the following items in this order : \n {history} \n which item should the user buy next ?'),
  own('x2-2', 'sequential', 'These are the items user_{user} purchased so far : \n {history} \n recommend the item the user is likely to purchase next'),
  own('x5-1', 'matching', 'From the candidates below , choose the item that user_{user} will most probably buy : \n {candidates}'),
  own('x3-1', 'explanation', 'Explain why user_{user} likes or dislikes item_{item} : {title}'),
  own('x3-2', 'explanation', 'user_{user} : item_{item} : {title} \n write the review explanation of the user'),
];

/** The baselines of the paper's tables: one seen and one unseen prompt per task. */
const BASELINES: Record<Task, Record<PromptKind, string>> = {
  sequential: { seen: '2-3', unseen: '2-13' },
  explanation: { seen: '3-1', unseen: '3-12' },
  matching: { seen: '5-7', unseen: '5-8' },
};

/** Training templates per task (seen only: an unseen prompt in training would make it seen). */
const TRAINING: Record<Task, readonly string[]> = {
  sequential: ['2-1', '2-3', 'x2-1', 'x2-2'],
  matching: ['5-7', 'x5-1'],
  explanation: ['3-1', 'x3-1', 'x3-2'],
};

export function manualPrompt(id: string): ManualPrompt {
  const p = MANUAL_PROMPTS.find((q) => q.id === id);
  if (!p) fail('prompt', `unknown manual prompt "${id}"; known: ${MANUAL_PROMPTS.map((q) => q.id).join(', ')}`);
  return p;
}

/** The paper's baseline for a task: the seen or the unseen P5 prompt. */
export function baselinePrompt(sel: { task: Task; kind: PromptKind }): ManualPrompt {
  return manualPrompt(BASELINES[sel.task][sel.kind]);
}

export function trainingTemplates(task: Task): ManualPrompt[] {
  return TRAINING[task].map(manualPrompt);
}
