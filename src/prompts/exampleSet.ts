/**
 * Example sets (DESIGN.md "the one idea"): every example of a task and split rendered once into flat typed arrays,
 * uploaded once to the engine. A prompt change afterwards only sends slot ids, never the data.
 */
import type { Dataset, ExampleSet, Split, Task, Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { slotsPerRow } from './automated.js';
import { promptExamples } from './examples.js';
import { Int32Builder } from './int32Builder.js';
import { renderExample, renderedText } from './render.js';
import { SegmentEncoder } from './segmentEncoder.js';
import type { Prompt, PromptExample } from './types.js';

export interface ExampleSetOptions {
  task: Task;
  split: Split;
  prompt: Prompt;
  /** Keep only users 1..maxUsers (quick runs); the per-user table then has maxUsers entries. */
  maxUsers?: number;
  /** Seed of the history joiner; the dataset's seed by default. */
  seed?: number;
}

function checkOptions(dataset: Dataset, opts: ExampleSetOptions): { seed: number; numUsers: number } {
  if (opts.prompt.task !== opts.task) fail('buildExampleSet', `prompt is for ${opts.prompt.task}, the set is ${opts.task}`);
  if (opts.maxUsers !== undefined && (!Number.isInteger(opts.maxUsers) || opts.maxUsers < 1)) {
    fail('buildExampleSet', `maxUsers must be a positive integer, got ${opts.maxUsers}`);
  }
  const numUsers = Math.min(opts.maxUsers ?? dataset.users.length, dataset.users.length);
  const p = opts.prompt;
  if (p.type === 'automated' && p.userTokens && p.userTokens.length < numUsers) {
    fail('buildExampleSet', `the prompt's user table has ${p.userTokens.length} entries, the set has ${numUsers} users`);
  }
  return { seed: opts.seed ?? dataset.seed, numUsers };
}

/** Packs rendered examples; exported so callers with their own examples (demo data, tests) get the same layout. */
export function packExampleSet(
  examples: readonly PromptExample[],
  tokenizer: Tokenizer,
  opts: { task: Task; split: Split; prompt: Prompt; numUsers: number },
): ExampleSet {
  const { prompt, task } = opts;
  const enc = new SegmentEncoder(tokenizer);
  const perRow = prompt.type === 'automated' ? slotsPerRow(prompt) : 0;
  const size = examples.length;

  const inputIds = new Int32Builder(size * 64);
  const wholeWordIds = new Int32Builder(size * 64);
  const targetIds = new Int32Builder(size * 4);
  const inputOffsets = new Int32Array(size + 1);
  const targetOffsets = new Int32Array(size + 1);
  const slotPositions = new Int32Array(size * perRow).fill(-1);
  const userIndex = new Int32Array(size);
  const targetCache = new Map<string, number[]>(); // ranking targets repeat (item ids)

  for (let i = 0; i < size; i++) {
    const ex = examples[i]!;
    const row = renderExample(enc, prompt, ex);
    inputIds.pushAll(row.inputIds);
    wholeWordIds.pushAll(tokenizer.wholeWordIds(row.inputIds));
    inputOffsets[i + 1] = inputIds.length;
    for (let s = 0; s < row.slotPositions.length; s++) slotPositions[i * perRow + s] = row.slotPositions[s]!;

    let target = task === 'explanation' ? undefined : targetCache.get(ex.target);
    if (target === undefined) {
      target = enc.encodeWithEos(ex.target);
      if (task !== 'explanation') targetCache.set(ex.target, target);
    }
    targetIds.pushAll(target);
    targetOffsets[i + 1] = targetIds.length;
    userIndex[i] = ex.user - 1;
  }

  return {
    task,
    split: opts.split,
    size,
    inputIds: inputIds.finish(),
    inputOffsets,
    wholeWordIds: wholeWordIds.finish(),
    numTaskSlots: prompt.type === 'automated' ? prompt.taskTokens.length : 0,
    hasUserSlot: prompt.type === 'automated' && prompt.userTokens !== undefined,
    slotPositions,
    targetIds: targetIds.finish(),
    targetOffsets,
    userIndex,
    numUsers: opts.numUsers,
    ...(task === 'explanation' ? { references: examples.map((e) => e.target) } : {}),
  };
}

export function buildExampleSet(dataset: Dataset, tokenizer: Tokenizer, opts: ExampleSetOptions): ExampleSet {
  const { seed, numUsers } = checkOptions(dataset, opts);
  const examples = promptExamples(dataset, opts.task, opts.split, seed, opts.maxUsers);
  return packExampleSet(examples, tokenizer, { task: opts.task, split: opts.split, prompt: opts.prompt, numUsers });
}

/** The rendered input strings of the set's rows (all, or `rows`), slots shown as `[piece]`: for debugging. */
export function exampleTexts(dataset: Dataset, tokenizer: Tokenizer, opts: ExampleSetOptions & { rows?: readonly number[] }): string[] {
  const { seed } = checkOptions(dataset, opts);
  const examples = promptExamples(dataset, opts.task, opts.split, seed, opts.maxUsers);
  const rows = opts.rows ?? examples.map((_, i) => i);
  return rows.map((i) => {
    const ex = examples[i];
    if (ex === undefined) fail('exampleTexts', `row ${i} is outside 0..${examples.length - 1}`);
    return renderedText(opts.prompt, ex, (id) => tokenizer.idToPiece(id));
  });
}

/**
 * The rows `rows` of `set` (in that order) as an example set of their own, same prompt shape and user table: for a
 * small resident set cut from a large one (the search's pool of training rows) without rendering again.
 */
export function subsetExampleSet(set: ExampleSet, rows: ArrayLike<number>): ExampleSet {
  const perRow = set.size > 0 ? set.slotPositions.length / set.size : 0;
  const inputIds = new Int32Builder(rows.length * 64);
  const wholeWordIds = new Int32Builder(rows.length * 64);
  const targetIds = new Int32Builder(rows.length * 4);
  const inputOffsets = new Int32Array(rows.length + 1);
  const targetOffsets = new Int32Array(rows.length + 1);
  const slotPositions = new Int32Array(rows.length * perRow);
  const userIndex = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= set.size) fail('subsetExampleSet', `row ${r} is outside 0..${set.size - 1}`);
    inputIds.pushAll(set.inputIds.subarray(set.inputOffsets[r]!, set.inputOffsets[r + 1]!));
    wholeWordIds.pushAll(set.wholeWordIds.subarray(set.inputOffsets[r]!, set.inputOffsets[r + 1]!));
    targetIds.pushAll(set.targetIds.subarray(set.targetOffsets[r]!, set.targetOffsets[r + 1]!));
    inputOffsets[i + 1] = inputIds.length;
    targetOffsets[i + 1] = targetIds.length;
    slotPositions.set(set.slotPositions.subarray(r * perRow, (r + 1) * perRow), i * perRow);
    userIndex[i] = set.userIndex[r]!;
  }
  return {
    task: set.task,
    split: set.split,
    size: rows.length,
    inputIds: inputIds.finish(),
    inputOffsets,
    wholeWordIds: wholeWordIds.finish(),
    numTaskSlots: set.numTaskSlots,
    hasUserSlot: set.hasUserSlot,
    slotPositions,
    targetIds: targetIds.finish(),
    targetOffsets,
    userIndex,
    numUsers: set.numUsers,
    ...(set.references ? { references: Array.from(rows, (r) => set.references![r]!) } : {}),
  };
}
