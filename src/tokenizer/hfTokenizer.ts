import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { flatten, type TokenizerJson } from './tokenizerJson.js';
import { countWholeWords } from './wholeWords.js';

/**
 * Any other tokenizer.json (WordPiece, BPE, Unigram with other normalizers) through @huggingface/tokenizers.
 * Word starts follow the tokenizer's own convention: `▁` (Metaspace), `Ġ` (byte-level BPE), or, for WordPiece,
 * every piece that does not carry the continuing-subword prefix (`##`).
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  private readonly lib: HfLibTokenizer;
  private readonly pieces: string[] = [];
  private readonly special: Uint8Array;
  private readonly startsWord: Uint8Array; // word starts for counting whole words
  private readonly mask: Uint8Array; // word starts allowed in a trigger slot (no special tokens)
  private readonly eosId: number;
  private readonly padId: number;

  constructor(
    private readonly json: TokenizerJson,
    where: string,
    private readonly text: string,
  ) {
    try {
      this.lib = new HfLibTokenizer(json, {});
    } catch (err) {
      fail(where, `@huggingface/tokenizers cannot load this tokenizer.json (${(err as Error).message})`);
    }
    const vocab = this.lib.get_vocab(true);
    for (const [piece, id] of vocab) this.pieces[id] = piece;
    this.vocabSize = this.pieces.length;
    this.special = new Uint8Array(this.vocabSize);
    for (const t of json.added_tokens ?? []) if (t.special) this.special[t.id] = 1;
    const isStart = wordStartRule(json);
    this.startsWord = new Uint8Array(this.vocabSize);
    for (let i = 0; i < this.vocabSize; i++) {
      const p = this.pieces[i];
      if (p !== undefined && !this.special[i] && isStart(p)) this.startsWord[i] = 1;
    }
    this.mask = this.startsWord.slice();
    // WordPiece's [UNK] stands for a whole word, so it opens one (it never fills a trigger slot).
    const unk = (json.model as Record<string, any>).unk_token;
    if (json.model.type === 'WordPiece' && typeof unk === 'string' && vocab.has(unk)) this.startsWord[vocab.get(unk)!] = 1;
    this.eosId = vocab.get('</s>') ?? vocab.get('[SEP]') ?? -1;
    this.padId = vocab.get('<pad>') ?? vocab.get('[PAD]') ?? -1;
  }

  encode(text: string, opts?: { addEos?: boolean }): number[] {
    return this.lib.encode(text, { add_special_tokens: opts?.addEos !== false }).ids;
  }

  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string {
    return this.lib.decode(Array.from(ids), { skip_special_tokens: opts?.skipSpecial !== false });
  }

  idToPiece(id: number): string | undefined {
    return this.pieces[id];
  }

  pieceToId(piece: string): number | undefined {
    return this.lib.token_to_id(piece);
  }

  wholeWordIds(ids: ArrayLike<number>): number[] {
    return countWholeWords(ids, this.startsWord, this.eosId, this.padId);
  }

  wordStartMask(): Uint8Array {
    return this.mask.slice();
  }

  toJSON(): string {
    return this.text;
  }
}

function wordStartRule(json: TokenizerJson): (piece: string) => boolean {
  const m = json.model as Record<string, any>;
  if (m.type === 'WordPiece') {
    const prefix: string = m.continuing_subword_prefix ?? '##';
    return (p) => !p.startsWith(prefix);
  }
  const pre = [...flatten(json.pre_tokenizer, 'pretokenizers'), ...flatten(json.decoder, 'pretokenizers')];
  const meta = pre.find((x) => x?.type === 'Metaspace');
  if (meta) {
    const mark: string = meta.replacement ?? '\u2581';
    return (p) => p.startsWith(mark) && p.length > mark.length;
  }
  if (pre.some((x) => x?.type === 'ByteLevel')) return (p) => p.startsWith('\u0120') && p.length > 1;
  return (p) => p.startsWith('\u2581') && p.length > 1;
}
