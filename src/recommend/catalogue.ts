/**
 * The items a recommendation may name, as the token sequences the model generates for them: each item id encoded
 * as a target (`enc.encodeWithEos`, as every example set encodes its targets). Those sequences feed the engine's
 * prefix trie for constrained decoding (native/engine/constraint.h) and map a decoded output back to an item.
 */
import type { Tokenizer } from '../types.js';
import { SegmentEncoder } from '../prompts/segmentEncoder.js';

/** Flat token sequences, as the engine's constraint reads them: sequence i spans [offsets[i], offsets[i+1]). */
export interface SequenceSet {
  ids: Int32Array;
  offsets: Int32Array;
}

/** The target token ids of `items` (each ending with `</s>`), packed. */
export function itemSequences(items: readonly number[], enc: SegmentEncoder): SequenceSet {
  const rows = items.map((item) => enc.encodeWithEos(String(item)));
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i]! + r.length));
  const ids = new Int32Array(offsets[rows.length]!);
  rows.forEach((r, i) => ids.set(r, offsets[i]!));
  return { ids, offsets };
}

/** A catalogue of item ids and its packed sequences (built once; shared by every constrained row). */
export class Catalogue {
  readonly items: ReadonlySet<number>;
  readonly sequences: SequenceSet;

  constructor(items: Iterable<number>, tokenizer: Tokenizer) {
    const sorted = [...new Set(items)].sort((a, b) => a - b);
    this.items = new Set(sorted);
    this.sequences = itemSequences(sorted, new SegmentEncoder(tokenizer));
  }

  get size(): number {
    return this.items.size;
  }

  has(item: number): boolean {
    return this.items.has(item);
  }
}

/**
 * The text of generated ids, '' when they hold a model row beyond the tokenizer's pieces (T5 v1.1 / Flan-T5 keep
 * 32,128 rows for 32,100 pieces). Such a row decodes to nothing, so decoding the rest alone would misread the
 * output (`▁12`, row 32105, `34` as item 1234): an output holding one names no item.
 */
export function generatedText(ids: Int32Array, tokenizer: Pick<Tokenizer, 'decode' | 'vocabSize'>): string {
  for (const id of ids) if (id >= tokenizer.vocabSize) return '';
  return tokenizer.decode(ids).trim();
}

/** The item a generated text names: a canonical positive integer (`12`, never `012` or `1 2`), else undefined. */
export function itemOfText(text: string): number | undefined {
  if (!/^[1-9]\d*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
