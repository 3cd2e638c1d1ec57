import { fail } from '../errors.js';
import { PieceType, type SpmModel } from './spmProto.js';
import { WORD_START } from './spmNormalizer.js';

/** The parts of an HF `tokenizer.json` that paprec writes and reads (other fields pass through untouched). */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface TokenizerJson {
  version?: string;
  added_tokens?: AddedTokenJson[];
  normalizer?: any;
  pre_tokenizer?: any;
  post_processor?: any;
  decoder?: any;
  model: { type?: string; vocab?: unknown; unk_id?: number | null; [k: string]: unknown };
  [k: string]: unknown;
}

/** T5 appends 100 sentinels after the SentencePiece vocabulary: `<extra_id_N>` has id vocab + 99 - N. */
export const T5_EXTRA_IDS = 100;

function added(id: number, content: string): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * The HF tokenizer.json of a SentencePiece Unigram model, in the layout HF's own T5 converter writes: Unigram
 * pieces with their float32 scores, Precompiled charsmap (base64) + collapse of space runs, Metaspace `▁` with a
 * prefix space, `</s>` appended by TemplateProcessing, control / unknown pieces and `<extra_id_N>` as special
 * added tokens.
 */
export function buildTokenizerJson(model: SpmModel, file: string, extraIds = T5_EXTRA_IDS): TokenizerJson {
  if (model.modelType !== 1) fail(file, `SentencePiece model type ${model.modelType} is not Unigram (1)`);
  if (model.byteFallback) fail(file, 'SentencePiece byte fallback is not supported');
  if (model.treatWhitespaceAsSuffix) fail(file, 'treat_whitespace_as_suffix is not supported');
  const { pieces } = model;
  if (!(model.unkId >= 0 && model.unkId < pieces.length) || pieces[model.unkId]!.type !== PieceType.UNKNOWN) {
    fail(file, `unk_id ${model.unkId} is not the id of the UNKNOWN piece`);
  }
  const addedTokens: AddedTokenJson[] = [];
  pieces.forEach((p, id) => {
    if (p.type === PieceType.CONTROL || p.type === PieceType.UNKNOWN) addedTokens.push(added(id, p.piece));
    else if (p.type !== PieceType.NORMAL) {
      // USER_DEFINED / UNUSED / BYTE pieces change segmentation in ways a plain Unigram vocab cannot say.
      fail(file, `piece ${id} ("${p.piece}") has type ${p.type}; only normal, control and unknown pieces are supported`);
    }
  });
  const vocab: Array<[string, number]> = pieces.map((p) => [p.piece, p.score]);
  const seen = new Set(vocab.map((v) => v[0]));
  for (let k = 0; k < extraIds; k++) {
    const content = `<extra_id_${extraIds - 1 - k}>`;
    if (seen.has(content)) fail(file, `the model already has a piece "${content}"`);
    vocab.push([content, 0]);
    addedTokens.push(added(pieces.length + k, content));
  }
  const n = model.normalizer;
  const normalizers: any[] = [];
  if (n.precompiledCharsmap.length > 0) {
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(n.precompiledCharsmap).toString('base64') });
  }
  if (n.removeExtraWhitespaces) normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  const metaspace = {
    type: 'Metaspace',
    replacement: WORD_START,
    add_prefix_space: n.addDummyPrefix,
    prepend_scheme: n.addDummyPrefix ? 'always' : 'never',
    split: true,
  };
  const eos = model.eosId >= 0 && model.eosId < pieces.length ? pieces[model.eosId]!.piece : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: normalizers.length === 0 ? null : { type: 'Sequence', normalizers },
    pre_tokenizer: n.removeExtraWhitespaces
      ? { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] }
      : metaspace,
    post_processor: eos === null ? null : eosTemplate(eos, model.eosId),
    decoder: { ...metaspace },
    model: { type: 'Unigram', unk_id: model.unkId, vocab, byte_fallback: false },
  };
}

function eosTemplate(eos: string, eosId: number): object {
  return {
    type: 'TemplateProcessing',
    single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
    pair: [
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: eos, type_id: 0 } },
      { Sequence: { id: 'B', type_id: 0 } },
      { SpecialToken: { id: eos, type_id: 0 } },
    ],
    special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
  };
}

/** Top-level nodes of a normalizer / pre-tokenizer config (a Sequence is flattened). */
export function flatten(node: any, key: 'normalizers' | 'pretokenizers'): any[] {
  if (node === null || node === undefined) return [];
  if (node.type === 'Sequence' && Array.isArray(node[key])) return node[key].flatMap((c: any) => flatten(c, key));
  return [node];
}
