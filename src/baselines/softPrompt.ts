/**
 * `paprec soft-prompt`: the continuous prompt baseline (PAP-REC §2.2.2, §5.5). The automated prompt's l task slots
 * (no [T_u]) on the training split, their input embeddings trained with Adam on the P5 loss (backbone frozen), then
 * projected to the nearest word-start tokens. Writes soft.json, which `paprec eval --prompt soft.json` evaluates as
 * the soft prompt and `--prompt soft.json#projected` as the projection (a discrete prompt).
 */
import type { Dataset, Task, Tokenizer } from '../types.js';
import { TASKS } from '../types.js';
import { fail } from '../errors.js';
import { loadDataset } from '../data/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { automatedPrompt } from '../prompts/automated.js';
import { buildExampleSet } from '../prompts/exampleSet.js';
import type { Placement } from '../prompts/types.js';
import { Backbone } from '../backbone/index.js';
import { ResidentExampleSet, modelSlotMask, projectSoftPrompt, trainSoftPrompt } from '../engine/index.js';
import { checkWritable, writeFileAtomic } from '../util/fs.js';

export interface SoftPromptRunOptions {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  /** Written here (soft.json). */
  out: string;
  /** l, the task slots (default 5). */
  length?: number;
  placement?: Placement;
  steps?: number; // default 600
  lr?: number; // default 0.1 (the best of 0.01 / 0.03 / 0.1 / 0.3 on the demo's validation split)
  batchSize?: number; // default 32
  /** Mini-batch and rendering seed (default: the dataset's). */
  seed?: number;
  maxUsers?: number;
  device?: string;
  streams?: number;
}

/** What soft.json holds. */
export interface SoftPromptFile {
  kind: 'soft prompt';
  task: Task;
  length: number;
  placement: Placement;
  dModel: number;
  /** One row of dModel numbers per task slot (float32 values, written exactly). */
  embeddings: number[][];
  /** The nearest word-start token of each slot (L2 distance), a discrete prompt. */
  projection: { taskTokens: number[]; pieces: string[]; distance: 'L2' };
  /** The initial slot tokens (P started as their embeddings). */
  init: { taskTokens: number[] };
  losses: number[];
  training: { steps: number; lr: number; batchSize: number; seed: number; examples: number };
}

function checkOptions(o: SoftPromptRunOptions): void {
  if (!TASKS.includes(o.task)) fail('soft-prompt', `--task must be one of ${TASKS.join(', ')}, got ${o.task}`);
  for (const [flag, v] of [['--length', o.length], ['--steps', o.steps], ['--batch-size', o.batchSize], ['--max-users', o.maxUsers], ['--streams', o.streams]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) fail('soft-prompt', `${flag} must be a positive integer, got ${v}`);
  }
  if (o.lr !== undefined && (!(o.lr > 0) || !Number.isFinite(o.lr))) fail('soft-prompt', `--lr must be a positive number, got ${o.lr}`);
  if (o.placement !== undefined && o.placement !== 'suffix' && o.placement !== 'prefix') fail('soft-prompt', `--placement must be suffix or prefix, got ${o.placement}`);
}

/** What a soft prompt is trained on, already loaded (the demo reuses them to measure the result). */
export interface SoftPromptInputs {
  backbone: Backbone;
  dataset: Dataset;
  tokenizer: Tokenizer;
}

/** `paprec soft-prompt`: load the data, tokenizer and model, train, write `o.out`. */
export async function runSoftPrompt(o: SoftPromptRunOptions, say: (line: string) => void = () => {}): Promise<SoftPromptFile> {
  checkOptions(o);
  await checkWritable(o.out);
  const dataset = await loadDataset(o.data, { ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}), onWarning: (m) => say(`note: ${m}`) });
  const tokenizer = await loadTokenizer(o.tokenizer);
  const backbone = await Backbone.load(o.model, { device: o.device ?? 'auto', dtype: 'fp32' });
  try {
    return await softPromptFile({ backbone, dataset, tokenizer }, o, say);
  } finally {
    await backbone.dispose();
  }
}

/** Train the soft prompt on the task's training split, project it, and write `o.out` (soft.json). */
export async function softPromptFile(
  { backbone, dataset, tokenizer }: SoftPromptInputs,
  o: Omit<SoftPromptRunOptions, 'data' | 'model' | 'tokenizer' | 'device'>,
  say: (line: string) => void = () => {},
): Promise<SoftPromptFile> {
  const prompt = automatedPrompt(tokenizer, { task: o.task, length: o.length ?? 5, placement: o.placement ?? 'suffix' });
  const seed = o.seed ?? dataset.seed;
  const set = buildExampleSet(dataset, tokenizer, { task: o.task, split: 'train', prompt, seed, ...(o.maxUsers !== undefined ? { maxUsers: o.maxUsers } : {}) });
  if (set.size === 0) fail(dataset.dir, `no ${o.task} training examples to train the soft prompt on`);
  const train = ResidentExampleSet.upload(backbone, set, { defaultToken: prompt.defaultUserToken, vocabLimit: tokenizer.vocabSize, ...(o.streams !== undefined ? { streams: o.streams } : {}) });
  const opts = { steps: o.steps ?? 600, lr: o.lr ?? 0.1, batchSize: o.batchSize ?? 32, seed };
  say(`${o.task}: ${set.size} training examples, ${opts.steps} Adam steps (lr ${opts.lr}, batch ${opts.batchSize}) on ${backbone.device}`);
  let soft;
  try {
    soft = await trainSoftPrompt(train, { ...opts, init: { taskTokens: prompt.taskTokens } });
  } finally {
    train.dispose();
  }
  const ids = await projectSoftPrompt(backbone, soft.embeddings, modelSlotMask(tokenizer.wordStartMask(), backbone.config.vocabSize));
  const d = backbone.config.dModel;
  const losses = Array.from(soft.losses);
  say(`loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)}; projection ${Array.from(ids, (t) => tokenizer.idToPiece(t)).join(' ')}`);
  const file: SoftPromptFile = {
    kind: 'soft prompt',
    task: o.task,
    length: prompt.taskTokens.length,
    placement: prompt.placement,
    dModel: d,
    embeddings: Array.from({ length: ids.length }, (_, r) => Array.from(soft.embeddings.subarray(r * d, (r + 1) * d))),
    projection: { taskTokens: Array.from(ids), pieces: Array.from(ids, (t) => tokenizer.idToPiece(t) ?? `<${t}>`), distance: 'L2' },
    init: { taskTokens: Array.from(prompt.taskTokens) },
    losses,
    training: { ...opts, examples: set.size },
  };
  await writeFileAtomic(o.out, JSON.stringify(file) + '\n');
  return file;
}
