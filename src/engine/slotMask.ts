/**
 * The slot mask over the model's rows. The tokenizer's word-start mask covers its own pieces only; a model may
 * have more rows (T5 v1.1 / Flan-T5: 32,128 rows for 32,100 pieces). Those rows are no piece of any text, so they
 * are never trigger-token candidates: the mask is 0 there.
 */
import { PaprecError } from '../errors.js';

export function modelSlotMask(wordStartMask: Uint8Array, modelVocab: number): Uint8Array {
  if (modelVocab < wordStartMask.length) {
    throw new PaprecError(
      `slot mask: the model has ${modelVocab} vocabulary rows but the tokenizer ${wordStartMask.length} pieces ` +
        `(every tokenizer id needs a model row)`,
    );
  }
  if (modelVocab === wordStartMask.length) return wordStartMask;
  const mask = new Uint8Array(modelVocab);
  mask.set(wordStartMask);
  return mask;
}
