/**
 * Encoding with a per-word cache. T5's SentencePiece model never lets a piece cross whitespace, so the ids of a
 * text made of plain ASCII words are the concatenation of the ids of each word encoded alone. Rendered prompts
 * repeat a few hundred distinct words (template words, `user_123`, item digits) across tens of thousands of
 * examples, so caching per word turns the Unigram Viterbi pass into a map look-up. Texts with any other character
 * (titles, reviews) go to the tokenizer whole, because normalization of non-ASCII text may depend on neighbours.
 * test/unit/prompts.test.ts checks the identity against whole-string encoding on real rendered examples.
 */
import type { Tokenizer } from '../types.js';
import { EOS_ID } from '../types.js';

/** Characters whose T5 normalization is the identity and never merges with a neighbour. */
// ASCII whitespace only: JS's \s also matches U+FEFF and other marks that T5 deletes rather than treats as a gap.
const CACHEABLE = /^[A-Za-z0-9_:,.?>\- \t\n\r]*$/;
const WHITESPACE = /[ \t\n\r]+/;

export class SegmentEncoder {
  private readonly cache = new Map<string, readonly number[]>();

  constructor(readonly tokenizer: Tokenizer) {}

  /** Ids of `text` without `</s>`, appended to `out`. */
  encodeInto(text: string, out: number[]): void {
    if (!CACHEABLE.test(text)) {
      for (const id of this.tokenizer.encode(text, { addEos: false })) out.push(id);
      return;
    }
    for (const word of text.split(WHITESPACE)) {
      if (word === '') continue;
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.tokenizer.encode(word, { addEos: false });
        this.cache.set(word, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }

  /** Ids of `text` followed by `</s>`. */
  encodeWithEos(text: string): number[] {
    const out: number[] = [];
    this.encodeInto(text, out);
    out.push(EOS_ID);
    return out;
  }
}
