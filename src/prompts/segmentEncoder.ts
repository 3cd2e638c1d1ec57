/**
 * Encoding of rendered text segments with a cache of whole segments. A segment is encoded as one string, never
 * word by word: SentencePiece's Viterbi compares float32 scores, so the split of a word can depend on the score
 * accumulated before it (near-ties such as `item_77777`), and only whole-string encoding is exactly what the
 * tokenizer gives. Rendered prompts repeat their fixed segments (template text around the slots) across tens of
 * thousands of examples, so those come from the cache; the cache is bounded so that training epochs that render
 * new windows never grow it without limit.
 * test/unit/prompts.test.ts checks the identity against whole-string encoding on real rendered examples.
 */
import type { Tokenizer } from '../types.js';
import { EOS_ID } from '../types.js';

const MAX_CACHED_SEGMENTS = 50_000;

export class SegmentEncoder {
  private readonly cache = new Map<string, readonly number[]>();

  constructor(readonly tokenizer: Tokenizer) {}

  /** Ids of `text` without `</s>`, appended to `out`. */
  encodeInto(text: string, out: number[]): void {
    let ids = this.cache.get(text);
    if (ids === undefined) {
      ids = this.tokenizer.encode(text, { addEos: false });
      if (this.cache.size < MAX_CACHED_SEGMENTS) this.cache.set(text, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  /** Ids of `text` followed by `</s>`. */
  encodeWithEos(text: string): number[] {
    const out: number[] = [];
    this.encodeInto(text, out);
    out.push(EOS_ID);
    return out;
  }
}
