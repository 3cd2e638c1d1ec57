import type { Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { PrecompiledCharsmap } from './charsmap.js';
import { SpmNormalizer, WORD_START } from './spmNormalizer.js';
import { UnigramModel, type UnigramPiece } from './unigram.js';
import { SpecialSplitter } from './specialSplit.js';
import { flatten, type TokenizerJson } from './tokenizerJson.js';
import { countWholeWords } from './wholeWords.js';

export interface EncodeOptions {
  /** Append `</s>` (default true; like HF T5Tokenizer, not when the ids already end with it). */
  addEos?: boolean;
  /**
   * Cut the text on special tokens (`<extra_id_N>`, `</s>`, `<pad>`, `<unk>`) the way HF T5Tokenizer does
   * (default true). False gives plain SentencePiece, which reads them as ordinary text.
   */
  splitSpecial?: boolean;
}

const UNK_SURFACE = ' \u2047 '; // SentencePiece renders an unknown piece as " ⁇ "

/**
 * A SentencePiece Unigram tokenizer that reproduces SentencePiece and the slow HF T5Tokenizer exactly, built from
 * a tokenizer.json in the layout `buildTokenizerJson` writes (HF's own T5 layout). @huggingface/tokenizers 0.2
 * approximates the Precompiled normalizer with NFKC, lets control pieces into the lattice and sums scores in
 * float64, so this class does normalization and segmentation itself.
 */
export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly pieces: string[];
  private readonly ids: Map<string, number>;
  private readonly special: Uint8Array; // added tokens: never produced from plain text, dropped by decode
  private readonly startsWord: Uint8Array;
  private readonly normalizer: SpmNormalizer;
  private readonly model: UnigramModel;
  private readonly splitter: SpecialSplitter;
  private readonly unkId: number;
  private readonly addPrefix: boolean;
  private mask: Uint8Array | undefined;
  private text: string | undefined;

  constructor(
    private readonly json: TokenizerJson,
    where: string,
    text?: string,
  ) {
    this.text = text;
    const vocab = json.model.vocab;
    if (!Array.isArray(vocab) || vocab.length === 0) fail(where, 'model.vocab must be a non-empty [piece, score] list');
    const n = vocab.length;
    this.pieces = new Array<string>(n);
    this.ids = new Map();
    for (let i = 0; i < n; i++) {
      const e = vocab[i];
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') {
        fail(where, `model.vocab[${i}] must be [piece, score]`);
      }
      this.pieces[i] = e[0];
      if (!this.ids.has(e[0])) this.ids.set(e[0], i);
    }
    const unk = json.model.unk_id;
    if (typeof unk !== 'number' || !(unk >= 0 && unk < n)) fail(where, `model.unk_id ${String(unk)} is not a vocab id`);
    this.unkId = unk;
    const addedTokens = json.added_tokens ?? [];
    this.vocabSize = Math.max(n, ...addedTokens.map((t) => t.id + 1));
    this.special = new Uint8Array(this.vocabSize);
    for (const t of addedTokens) {
      if (!(Number.isInteger(t.id) && t.id >= 0) || typeof t.content !== 'string') fail(where, 'bad added_tokens entry');
      this.special[t.id] = 1;
      this.pieces[t.id] = t.content;
      this.ids.set(t.content, t.id);
    }
    this.special[unk] = 1;
    this.eosId = this.ids.get('</s>') ?? -1;
    this.padId = this.ids.get('<pad>') ?? -1;
    const unigram: UnigramPiece[] = [];
    for (let i = 0; i < n; i++) {
      unigram.push({ piece: this.pieces[i]!, score: (vocab[i] as [string, number])[1], kind: this.special[i] ? 'none' : 'normal' });
    }
    this.model = new UnigramModel(unigram, unk);
    this.splitter = new SpecialSplitter(addedTokens.map((t) => ({ content: t.content, id: t.id })));
    this.startsWord = new Uint8Array(this.vocabSize);
    for (let i = 0; i < this.vocabSize; i++) {
      if (!this.special[i] && this.pieces[i]?.startsWith(WORD_START)) this.startsWord[i] = 1;
    }

    const normalizers = flatten(json.normalizer, 'normalizers');
    const pre = [...flatten(json.pre_tokenizer, 'pretokenizers'), ...flatten(json.decoder, 'pretokenizers')];
    const precompiled = normalizers.find((x) => x?.type === 'Precompiled');
    const metaspace = pre.find((x) => x?.type === 'Metaspace');
    this.addPrefix = metaspace
      ? metaspace.prepend_scheme !== undefined
        ? metaspace.prepend_scheme !== 'never'
        : metaspace.add_prefix_space !== false
      : true;
    const charsmap =
      precompiled && typeof precompiled.precompiled_charsmap === 'string' && precompiled.precompiled_charsmap.length > 0
        ? new PrecompiledCharsmap(Buffer.from(precompiled.precompiled_charsmap, 'base64'), `${where}: normalizer`)
        : null;
    this.normalizer = new SpmNormalizer(charsmap, {
      addDummyPrefix: this.addPrefix,
      removeExtraWhitespaces: normalizers.some((x) => x?.type === 'Replace') || pre.some((x) => x?.type === 'WhitespaceSplit'),
      escapeWhitespaces: true,
    });
  }

  /** Can this class reproduce `json` exactly? (Unigram with only SentencePiece-style normalization.) */
  static handles(json: TokenizerJson): boolean {
    if (json.model?.type !== 'Unigram') return false;
    const norm = flatten(json.normalizer, 'normalizers');
    const okNorm = norm.every(
      (x) => x?.type === 'Precompiled' || (x?.type === 'Replace' && x.pattern?.Regex === ' {2,}' && x.content === ' '),
    );
    const pre = flatten(json.pre_tokenizer, 'pretokenizers');
    const okPre = pre.every((x) => x?.type === 'WhitespaceSplit' || (x?.type === 'Metaspace' && x.replacement === WORD_START));
    return okNorm && okPre && pre.some((x) => x?.type === 'Metaspace');
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const out: number[] = [];
    if (opts?.splitSpecial === false || this.splitter.plain(text)) {
      this.model.encode(this.normalizer.normalize(text), out);
    } else {
      for (const chunk of this.splitter.split(text)) {
        if (chunk.special) out.push(chunk.id);
        else this.model.encode(this.normalizer.normalize(chunk.text), out);
      }
    }
    if (opts?.addEos !== false && this.eosId >= 0 && out[out.length - 1] !== this.eosId) out.push(this.eosId);
    return out;
  }

  /** Pieces of `text` as SentencePiece's EncodeAsPieces gives them (an unknown run shows its own characters). */
  encodeAsPieces(text: string): string[] {
    return this.model.encodeWithPieces(this.normalizer.normalize(text)).pieces;
  }

  /** The normalized text SentencePiece segments (spaces shown as `▁`). */
  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  /** SentencePiece's DecodeIds: `▁` -> space, the first word's prefix space dropped, unknowns as " ⁇ ". */
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string {
    const skip = opts?.skipSpecial !== false;
    let text = '';
    let atStart = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      let piece: string;
      if (id === this.unkId) piece = UNK_SURFACE;
      else if (this.special[id]) {
        if (skip) continue;
        piece = this.pieces[id] ?? '';
      } else {
        piece = this.pieces[id] ?? '';
        if (atStart && this.addPrefix && piece.startsWith(WORD_START)) piece = piece.slice(1);
        piece = piece.replaceAll(WORD_START, ' ');
      }
      if (piece.length > 0) atStart = false;
      text += piece;
    }
    return text;
  }

  idToPiece(id: number): string | undefined {
    return this.pieces[id];
  }

  pieceToId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  wholeWordIds(ids: ArrayLike<number>): number[] {
    return countWholeWords(ids, this.startsWord, this.eosId, this.padId);
  }

  /**
   * Trigger-slot candidates: pieces that start with `▁`, minus special / added tokens and minus the bare `▁`
   * piece (a lone word mark decodes to a space that re-tokenizing the prompt's text would not give back).
   */
  wordStartMask(): Uint8Array {
    if (!this.mask) {
      this.mask = this.startsWord.slice();
      const bare = this.ids.get(WORD_START);
      if (bare !== undefined) this.mask[bare] = 0;
    }
    return this.mask.slice();
  }

  toJSON(): string {
    this.text ??= JSON.stringify(this.json);
    return this.text;
  }
}
