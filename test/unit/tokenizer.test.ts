import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer as HfLib } from '@huggingface/tokenizers';
import { loadTokenizer, convertSentencePiece, SentencePieceTokenizer } from '../../src/tokenizer/index.js';
import { PaprecError } from '../../src/errors.js';
import { EOS_ID, PAD_ID, UNK_ID } from '../../src/types.js';

const shared = (p: string) => fileURLToPath(new URL(`../../../shared/${p}`, import.meta.url));
const SPIECE = shared('data/t5/spiece.model');
const readJsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l));
const GOLDEN_SPM: Array<{ text: string; ids: number[]; pieces: string[]; decoded: string }> = readJsonl(
  shared('data/t5/golden_spm_encodings.jsonl'),
);
const HF_T5: Array<{ text: string; ids: number[]; tokens: string[]; pieces: string[]; whole_word_ids: number[] }> =
  readJsonl(shared('fixtures/tokenizer/t5_encodings.jsonl'));
const META = JSON.parse(readFileSync(shared('fixtures/tokenizer/meta.json'), 'utf8'));

let fromModel: SentencePieceTokenizer;
let fromJson: SentencePieceTokenizer;
let jsonText: string;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'paprec-tok-'));
  fromModel = (await loadTokenizer(SPIECE)) as SentencePieceTokenizer;
  jsonText = await convertSentencePiece(SPIECE);
  const file = path.join(tmp, 'tokenizer.json');
  writeFileSync(file, jsonText);
  fromJson = (await loadTokenizer(file)) as SentencePieceTokenizer;
}, 20_000);

describe('fixture files', () => {
  it('are the ones meta.json describes', () => {
    expect(createHash('sha256').update(readFileSync(SPIECE)).digest('hex')).toBe(META.spiece_model_sha256);
    expect(HF_T5.length).toBe(META.cases);
    expect(GOLDEN_SPM.length).toBeGreaterThan(10);
  });
});

describe.each([
  ['spiece.model loaded directly', () => fromModel],
  ['converted tokenizer.json', () => fromJson],
])('T5 tokenizer from %s', (_name, tok) => {
  it('is a SentencePiece engine with the T5 vocabulary', () => {
    expect(tok()).toBeInstanceOf(SentencePieceTokenizer);
    expect(tok().vocabSize).toBe(META.vocab_size);
    expect(tok().idToPiece(PAD_ID)).toBe('<pad>');
    expect(tok().idToPiece(EOS_ID)).toBe('</s>');
    expect(tok().idToPiece(UNK_ID)).toBe('<unk>');
    for (let n = 0; n < 100; n++) {
      expect(tok().pieceToId(`<extra_id_${n}>`)).toBe(32099 - n);
      expect(tok().idToPiece(32099 - n)).toBe(`<extra_id_${n}>`);
    }
    expect(tok().pieceToId('<extra_id_100>')).toBeUndefined();
  });

  it.each(GOLDEN_SPM.map((c, i) => [i, c] as const))('matches SentencePiece on golden case %i', (_i, c) => {
    expect(tok().encode(c.text, { addEos: false, splitSpecial: false })).toEqual(c.ids);
    expect(tok().encodeAsPieces(c.text)).toEqual(c.pieces);
    expect(tok().decode(c.ids)).toBe(c.decoded);
  });

  it.each(HF_T5.map((c, i) => [i, c] as const))('matches HF T5Tokenizer (P5) on case %i', (_i, c) => {
    const ids = tok().encode(c.text);
    expect(ids).toEqual(c.ids);
    expect(ids.map((id) => tok().idToPiece(id))).toEqual(c.tokens);
    expect(tok().wholeWordIds(ids)).toEqual(c.whole_word_ids);
    // Without addEos only the appended </s> goes; one written at the end of the text stays (HF skips a second).
    expect(tok().encode(c.text, { addEos: false })).toEqual(/<\/s>\s*$/.test(c.text) ? c.ids : c.ids.slice(0, -1));
    if (!/<(extra_id_\d+|pad|unk|\/s)>/.test(c.text)) expect(tok().encodeAsPieces(c.text)).toEqual(c.pieces);
  });
});

describe('whole-word ids and the word-start mask', () => {
  it('count words from 1; the closing </s> and padding get 0; an inner </s> keeps the counter', () => {
    const ids = fromModel.encode('user_7 : 1 -> 22');
    const ww = fromModel.wholeWordIds([...ids, PAD_ID, PAD_ID]);
    expect(ww.slice(-3)).toEqual([0, 0, 0]);
    expect(ww[0]).toBe(1);
    // recompute from the pieces: +1 at every piece that starts with ▁
    let w = 0;
    const expected = ids.slice(0, -1).map((id) => (fromModel.idToPiece(id)!.startsWith('\u2581') ? ++w : w));
    expect(ww.slice(0, ids.length - 1)).toEqual(expected);
    const inner = fromModel.encode('x </s> y');
    expect(fromModel.wholeWordIds(inner)).toEqual([1, 1, 1, 2, 2, 0]);
  });

  it('marks exactly the non-special pieces that start with ▁, without the bare ▁', () => {
    const mask = fromModel.wordStartMask();
    expect(mask.length).toBe(32100);
    let count = 0;
    for (let id = 0; id < mask.length; id++) {
      const piece = fromModel.idToPiece(id)!;
      const want = id < 32000 && id > UNK_ID && piece.startsWith('\u2581') && piece !== '\u2581' ? 1 : 0;
      if (mask[id] !== want) throw new Error(`mask[${id}] (${piece}) = ${mask[id]}, expected ${want}`);
      count += want;
    }
    expect(count).toBeGreaterThan(10_000);
    for (const p of ['\u2581user', '\u2581item', '\u2581recommend', '\u2581the']) expect(mask[fromModel.pieceToId(p)!]).toBe(1);
    for (const id of [PAD_ID, EOS_ID, UNK_ID, 32000, 32099, fromModel.pieceToId('\u2581')!, fromModel.pieceToId('_')!]) {
      expect(mask[id]).toBe(0);
    }
    mask[fromModel.pieceToId('\u2581user')!] = 0; // a copy: callers may edit it
    expect(fromModel.wordStartMask()[fromModel.pieceToId('\u2581user')!]).toBe(1);
  });
});

describe('decode', () => {
  it('round-trips normalized text and drops special tokens unless asked', () => {
    const texts = [
      'Here is the purchase history list of user_123 : 4521 , 88 , 1203 try to recommend next item to the user',
      'Generate an explanation for user_5 about this product : Waterproof Mascara',
      'We want to make recommendation for user_1988 . Select the best item from these candidates : 1025 , 7803',
    ];
    for (const t of texts) expect(fromModel.decode(fromModel.encode(t))).toBe(t);
    const ids = fromModel.encode('fill <extra_id_5> in');
    expect(fromModel.decode(ids)).toBe('fill in');
    expect(fromModel.decode(ids, { skipSpecial: false })).toBe('fill<extra_id_5> in</s>');
    expect(fromModel.decode([fromModel.pieceToId('\u2581the')!, UNK_ID])).toBe('the \u2047 ');
  });

  it('collapses whitespace the way SentencePiece does', () => {
    expect(fromModel.normalize('  a \t\n b  ')).toBe('\u2581a\u2581b');
    expect(fromModel.encode('  a \t\n b  ')).toEqual(fromModel.encode('a b'));
  });
});

describe('the written tokenizer.json', () => {
  it('is a standard HF tokenizer.json that @huggingface/tokenizers loads', () => {
    const json = JSON.parse(jsonText);
    expect(json.model.type).toBe('Unigram');
    expect(json.model.unk_id).toBe(UNK_ID);
    expect(json.model.vocab.length).toBe(32100);
    expect(json.normalizer.normalizers[0].type).toBe('Precompiled');
    expect(json.added_tokens.length).toBe(103);
    expect(fromJson.toJSON()).toBe(jsonText);
    const lib = new HfLib(json, {});
    // The library's Precompiled is an NFKC approximation and it sums scores in float64, so compare plain prompts.
    for (const c of HF_T5.slice(0, 5)) expect(lib.encode(c.text).ids).toEqual(c.ids);
  });
});

describe('bad input', () => {
  it('names a missing file', async () => {
    const missing = path.join(tmp, 'nope', 'spiece.model');
    await expect(loadTokenizer(missing)).rejects.toThrow(PaprecError);
    await expect(loadTokenizer(missing)).rejects.toThrow(`${missing}: tokenizer not found`);
    await expect(convertSentencePiece(missing)).rejects.toThrow(missing);
  });

  it('names a corrupt .model', async () => {
    const truncated = path.join(tmp, 'truncated.model');
    writeFileSync(truncated, readFileSync(SPIECE).subarray(0, 5000));
    await expect(loadTokenizer(truncated)).rejects.toThrow(PaprecError);
    await expect(loadTokenizer(truncated)).rejects.toThrow(`${truncated}: not a SentencePiece model`);
    const empty = path.join(tmp, 'empty.model');
    writeFileSync(empty, '');
    await expect(loadTokenizer(empty)).rejects.toThrow(`${empty}: not a SentencePiece model (no pieces)`);
  });

  it('names a tokenizer.json that does not parse or has no model', async () => {
    const broken = path.join(tmp, 'broken.json');
    writeFileSync(broken, jsonText.slice(0, 1000));
    await expect(loadTokenizer(broken)).rejects.toThrow(PaprecError);
    await expect(loadTokenizer(broken)).rejects.toThrow(`${broken}: tokenizer.json is not valid JSON`);
    const noModel = path.join(tmp, 'nomodel.json');
    writeFileSync(noModel, '{"version": "1.0"}');
    await expect(loadTokenizer(noModel)).rejects.toThrow(`${noModel}: tokenizer.json has no "model" object`);
  });
});
