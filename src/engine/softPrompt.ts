/**
 * The continuous (soft) prompt baseline the paper discusses (§2.2.2, §5.5): the automated prompt's task slots, their
 * input embeddings optimised directly on the training loss with the backbone frozen, and the nearest-token
 * projection of those embeddings back to a discrete prompt. The numbers stay in the engine; only the embeddings,
 * the loss curve and token ids come back.
 */
import { PaprecError } from '../errors.js';
import type { Backbone } from '../backbone/index.js';
import { native } from '../native.js';
import type { Assignment, ResidentExampleSet } from './residentSet.js';

export interface SoftPromptOptions {
  /** Adam steps (one mini-batch each). */
  steps: number;
  /** Adam's learning rate (betas 0.9 / 0.999, eps 1e-8, no weight decay). */
  lr: number;
  /** Examples per step: consecutive slices of a seeded permutation of the set, redrawn every pass. */
  batchSize: number;
  seed: number;
  /** The prompt's current slot tokens: P starts as their embeddings (or as init.slotEmbeddings when given). */
  init: Assignment;
  streams?: number;
}

export interface SoftPrompt {
  /** [numTaskSlots * dModel] row-major. */
  embeddings: Float32Array;
  /** The mini-batch P5 loss of every step, before its update. */
  losses: Float32Array;
}

function positiveInteger(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new PaprecError(`trainSoftPrompt: ${what} must be a positive integer, got ${v}`);
}

/** Train the soft prompt on `trainSet` (the automated prompt's training rows, uploaded). */
export async function trainSoftPrompt(trainSet: ResidentExampleSet, o: SoftPromptOptions): Promise<SoftPrompt> {
  positiveInteger('steps', o.steps);
  positiveInteger('batchSize', o.batchSize);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new PaprecError(`trainSoftPrompt: lr must be a positive number, got ${o.lr}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new PaprecError(`trainSoftPrompt: seed must be a non-negative integer, got ${o.seed}`);
  const { init, ...opts } = o;
  return trainSet.trainSoftPrompt(init, opts);
}

/**
 * The nearest word-start token of each slot's embedding: Euclidean (L2) distance to the rows of the model's input
 * embedding, among the tokens `slotMask` allows (1 = allowed; the tokenizer's wordStartMask over the model's rows),
 * equal distances to the lower id. One native call; only ids come back.
 */
export async function projectSoftPrompt(backbone: Backbone, embeddings: Float32Array, slotMask: Uint8Array): Promise<Int32Array> {
  const d = backbone.config.dModel;
  if (embeddings.length === 0 || embeddings.length % d !== 0) {
    throw new PaprecError(`projectSoftPrompt: ${embeddings.length} values are not whole rows of dModel = ${d}`);
  }
  if (slotMask.length !== backbone.config.vocabSize) {
    throw new PaprecError(`projectSoftPrompt: the mask has ${slotMask.length} entries but the model's vocabulary ${backbone.config.vocabSize}`);
  }
  try {
    return await backbone.call((h) => native().projectSoftPrompt(h, embeddings, embeddings.length / d, slotMask));
  } catch (err) {
    if (err instanceof PaprecError) throw err;
    throw new PaprecError(`projectSoftPrompt: ${(err as Error).message}`);
  }
}
