/**
 * P5-style multi-task pretraining data (REFERENCE.md §2, §3): each epoch draws fresh examples of every task and
 * renders each under one of the task's *seen* templates (prompts/manual.ts `trainingTemplates`). The unseen P5
 * prompts (2-13, 3-12, 5-8) are never rendered here, so the "unseen manual" baseline keeps its meaning.
 *
 * Every random choice is keyed on (seed, epoch, task, user, n), so an epoch's examples are the same whichever
 * epoch a run starts from: that is what makes `--resume` reproduce an uninterrupted run.
 */
import { fail } from '../errors.js';
import { rngFor, type Rng } from '../data/rng.js';
import { MAX_HISTORY, sampleTrainWindow } from '../data/splits.js';
import { HISTORY_JOINERS } from '../prompts/examples.js';
import { trainingTemplates } from '../prompts/manual.js';
import { renderExample } from '../prompts/render.js';
import { SegmentEncoder } from '../prompts/segmentEncoder.js';
import type { ManualPrompt, PromptExample } from '../prompts/types.js';
import type { Dataset, RaggedRows, Task, Tokenizer } from '../types.js';

/**
 * What pretraining can train on: P5's three tasks, and `successor`, a synthetic task paprec generates itself (see
 * `successor` below). Only the three P5 tasks are evaluation tasks.
 */
export type PretrainTask = Task | 'successor';
export const PRETRAIN_TASKS: readonly PretrainTask[] = ['sequential', 'matching', 'explanation', 'successor'];

export interface EpochDataOptions {
  tasks: readonly PretrainTask[];
  epoch: number;
  seed: number;
  /** Only users 1..maxUsers. */
  maxUsers?: number;
  /** Sequential (and successor) examples per user per epoch, each a random training window (default 1). */
  sequentialPerUser?: number;
  /** Most recent items kept in a training window's history (default MAX_HISTORY, 20, as evaluation uses). */
  trainHistory?: number;
  /** Matching examples per user per epoch (default 1). */
  matchingPerUser?: number;
  /**
   * Candidates in a training matching list, the target included (default: the target and all the user's negatives,
   * 100 as evaluation lists them). Fewer: the target among that many of the user's negatives drawn at random, so an
   * example costs a fraction of a full list and more of them fit an epoch. Evaluation lists are never shortened.
   */
  matchingCandidates?: number;
  /** Explanation examples per epoch, drawn from the training reviews (default: one per user, at most all reviews). */
  explanationPerEpoch?: number;
}

export interface TrainExample {
  prompt: ManualPrompt;
  example: PromptExample;
}

function pickTemplate(rng: Rng, templates: readonly ManualPrompt[]): ManualPrompt {
  return templates[rng.int(templates.length)]!;
}

function sequential(ds: Dataset, o: EpochDataOptions, users: number, out: TrainExample[]): void {
  const templates = trainingTemplates('sequential');
  const per = o.sequentialPerUser ?? 1;
  for (let user = 1; user <= users; user++) {
    for (let n = 0; n < per; n++) {
      const rng = rngFor(o.seed, 'pretrain-sequential', o.epoch, user, n);
      const w = sampleTrainWindow(ds, user, rng, o.trainHistory);
      if (!w) continue;
      out.push({
        prompt: pickTemplate(rng, templates),
        example: { task: 'sequential', user, history: w.history, target: String(w.target), joiner: rng.pick(HISTORY_JOINERS) },
      });
    }
  }
}

/**
 * Synthetic: a sequential prompt whose target is the id after the largest id of the history. It teaches what T5's
 * own pretraining would have taught a P5 backbone and one trained from scratch lacks: how ids split into digit
 * pieces, how they order and what comes next. It is the rule the data rewards most: P5 numbers items by first
 * appearance, so a user's new items carry consecutive ids, and on Beauty the next item is the largest history id + 1
 * in 5% of training steps and 4.4% of test users, more than any single item.
 * Half the histories are the user's real training windows (their real id ranges and lengths), half are ids drawn
 * uniformly from the catalogue (every digit pattern, the largest anywhere in the history).
 */
function successor(ds: Dataset, o: EpochDataOptions, users: number, out: TrainExample[]): void {
  const templates = trainingTemplates('sequential');
  const per = o.sequentialPerUser ?? 1;
  const maxHistory = o.trainHistory ?? MAX_HISTORY;
  for (let user = 1; user <= users; user++) {
    for (let n = 0; n < per; n++) {
      const rng = rngFor(o.seed, 'pretrain-successor', o.epoch, user, n);
      let history: number[];
      if (rng.int(2) === 0) {
        const w = sampleTrainWindow(ds, user, rng, maxHistory);
        if (!w) continue;
        history = w.history;
      } else {
        history = Array.from({ length: 1 + rng.int(maxHistory) }, () => 1 + rng.int(ds.numItems - 1));
      }
      const target = Math.max(...history) + 1;
      if (target > ds.numItems) continue;
      out.push({
        prompt: pickTemplate(rng, templates),
        example: { task: 'sequential', user, history, target: String(target), joiner: rng.pick(HISTORY_JOINERS) },
      });
    }
  }
}

/**
 * A training item of the user (never the validation or test target) among the user's 99 negatives (or
 * `matchingCandidates - 1` of them drawn at random), shuffled.
 */
function matching(ds: Dataset, o: EpochDataOptions, users: number, out: TrainExample[]): void {
  const templates = trainingTemplates('matching');
  const per = o.matchingPerUser ?? 1;
  const size = o.matchingCandidates;
  if (size !== undefined && (!Number.isInteger(size) || size < 2)) fail('pretrain', `matching candidates must be an integer >= 2, got ${size}`);
  for (let user = 1; user <= users; user++) {
    const items = ds.users[user - 1]!.items;
    const trainItems = items.length - 2;
    if (trainItems < 1) continue;
    for (let n = 0; n < per; n++) {
      const rng = rngFor(o.seed, 'pretrain-matching', o.epoch, user, n);
      const target = items[rng.int(trainItems)]!;
      let negatives = (ds.negatives[user - 1] ?? []).filter((x) => x !== target);
      if (size !== undefined && size - 1 < negatives.length) negatives = rng.shuffle(negatives).slice(0, size - 1);
      const candidates = rng.shuffle([target, ...negatives]);
      out.push({
        prompt: pickTemplate(rng, templates),
        example: { task: 'matching', user, candidates, target: String(target), joiner: ' , ' },
      });
    }
  }
}

function explanation(ds: Dataset, o: EpochDataOptions, users: number, out: TrainExample[]): void {
  if (!ds.reviews) fail(ds.dir, `the explanation task needs explanation data (exp_splits.pkl); this folder has none`);
  const reviews = ds.reviews.train.filter((r) => r.user <= users);
  if (reviews.length === 0) return;
  const count = Math.min(o.explanationPerEpoch ?? users, reviews.length);
  const rng = rngFor(o.seed, 'pretrain-explanation', o.epoch);
  const order = rng.shuffle(reviews.map((_, i) => i)).slice(0, count);
  const templates = trainingTemplates('explanation');
  for (const i of order) {
    const r = reviews[i]!;
    const title = ds.titles?.get(r.item);
    out.push({
      prompt: pickTemplate(rng, templates),
      example: {
        task: 'explanation',
        user: r.user,
        item: r.item,
        rating: r.rating,
        ...(title !== undefined ? { title } : {}),
        target: r.explanation,
        joiner: ' , ',
      },
    });
  }
}

/** The examples of one pretraining epoch, all tasks mixed (the engine shuffles the batches). */
export function epochExamples(ds: Dataset, o: EpochDataOptions): TrainExample[] {
  if (o.tasks.length === 0) fail('pretrain', 'no training task selected');
  const users = Math.min(o.maxUsers ?? ds.users.length, ds.users.length);
  const out: TrainExample[] = [];
  for (const task of o.tasks) {
    if (task === 'sequential') sequential(ds, o, users, out);
    else if (task === 'matching') matching(ds, o, users, out);
    else if (task === 'explanation') explanation(ds, o, users, out);
    else if (task === 'successor') successor(ds, o, users, out);
    else fail('pretrain', `unknown task "${String(task)}"; known: ${PRETRAIN_TASKS.join(', ')}`);
  }
  return out;
}

/** Longest source kept (T5 has no hard limit; P5 truncated at 512). Longer inputs keep their start and `</s>`. */
export const MAX_SOURCE_TOKENS = 512;
/** Longest target kept (explanations), `</s>` included. */
export const MAX_TARGET_TOKENS = 64;

function clip(ids: number[], max: number): number[] {
  if (ids.length <= max) return ids;
  const out = ids.slice(0, max);
  out[max - 1] = ids[ids.length - 1]!; // keep the closing </s>
  return out;
}

class Int32List {
  buf = new Int32Array(1 << 16);
  length = 0;
  push(values: ArrayLike<number>): void {
    if (this.length + values.length > this.buf.length) {
      const next = new Int32Array(Math.max(this.buf.length * 2, this.length + values.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    for (let i = 0; i < values.length; i++) this.buf[this.length++] = values[i]!;
  }
  finish(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Render and pack examples into the flat layout the engine trains on. `encoder` may be shared across epochs (its
 * word cache makes re-rendering an epoch cheap).
 */
export function packTrainData(examples: readonly TrainExample[], tokenizer: Tokenizer, encoder = new SegmentEncoder(tokenizer)): RaggedRows {
  const inputs = new Int32List();
  const words = new Int32List();
  const targets = new Int32List();
  const inputOffsets = new Int32Array(examples.length + 1);
  const targetOffsets = new Int32Array(examples.length + 1);
  examples.forEach(({ prompt, example }, i) => {
    const ids = clip(renderExample(encoder, prompt, example).inputIds, MAX_SOURCE_TOKENS);
    inputs.push(ids);
    words.push(tokenizer.wholeWordIds(ids));
    inputOffsets[i + 1] = inputs.length;
    targets.push(clip(encoder.encodeWithEos(example.target), MAX_TARGET_TOKENS));
    targetOffsets[i + 1] = targets.length;
  });
  return { inputIds: inputs.finish(), inputOffsets, wholeWordIds: words.finish(), targetIds: targets.finish(), targetOffsets };
}
