import { describe, it, expect, beforeAll, vi } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import yargs from 'yargs';
import { loadTokenizer, HfTokenizer, SentencePieceTokenizer } from '../../src/tokenizer/index.js';
import { tokenizerCommand } from '../../src/cli/tokenizer.js';
import { PaprecError } from '../../src/errors.js';

const SPIECE = fileURLToPath(new URL('../../../shared/data/t5/spiece.model', import.meta.url));
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'paprec-tok2-'));
});

/** A SentencePiece ModelProto written field by field (sentencepiece_model.proto numbering). */
function spmBytes(pieces: Array<[string, number, number]>, opts: { modelType?: number; dummyPrefix?: boolean } = {}): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [piece, score, type] of pieces) {
    w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(piece).uint32((2 << 3) | 5).float(score);
    w.uint32((3 << 3) | 0).int32(type).ldelim();
  }
  w.uint32((2 << 3) | 2).fork();
  w.uint32((3 << 3) | 0).int32(opts.modelType ?? 1);
  w.uint32((40 << 3) | 0).int32(0).uint32((41 << 3) | 0).int32(1).uint32((42 << 3) | 0).int32(2);
  w.uint32((43 << 3) | 0).int32(-1).ldelim();
  w.uint32((3 << 3) | 2).fork().uint32((1 << 3) | 2).string('identity');
  w.uint32((3 << 3) | 0).bool(opts.dummyPrefix ?? true).ldelim();
  return w.finish();
}

const TOY: Array<[string, number, number]> = [
  ['<unk>', 0, 2],
  ['<s>', 0, 3],
  ['</s>', 0, 3],
  ['\u2581', -1, 1],
  ['a', -2, 1],
  ['b', -2, 1],
  ['ab', -3, 1],
  ['\u2581ab', -3.5, 1],
  ['\u2581b', -2.5, 1],
];

describe('a hand-made SentencePiece model (no charsmap)', () => {
  it('segments by Viterbi, fuses unknown runs and appends </s>', async () => {
    const file = path.join(tmp, 'toy.model');
    writeFileSync(file, spmBytes(TOY));
    const tok = await loadTokenizer(file);
    expect(tok).toBeInstanceOf(SentencePieceTokenizer);
    expect(tok.vocabSize).toBe(TOY.length + 100);
    expect(tok.pieceToId('<extra_id_0>')).toBe(TOY.length + 99);
    // ▁ab (-3.5) beats ▁+ab (-4); ▁b+a (-4.5) beats ▁+b+a (-5)
    expect(tok.encode('ab  ba')).toEqual([7, 8, 4, 2]);
    // c is unknown (score -3.5 - 10); "cc" fuses into one unknown
    expect(tok.encode('abcc', { addEos: false })).toEqual([7, 0]);
    expect(tok.wholeWordIds(tok.encode('ab  ba'))).toEqual([1, 2, 2, 0]);
    expect(tok.decode(tok.encode('ab  ba'))).toBe('ab ba');
  });

  it('without a dummy prefix the first word has no ▁', async () => {
    const file = path.join(tmp, 'noprefix.model');
    writeFileSync(file, spmBytes(TOY, { dummyPrefix: false }));
    const tok = await loadTokenizer(file);
    expect(tok.encode('ab b', { addEos: false })).toEqual([6, 8]);
  });

  it('refuses what a Unigram tokenizer.json cannot express, naming the file', async () => {
    const user = path.join(tmp, 'user.model');
    writeFileSync(user, spmBytes([...TOY, ['<sep>', 0, 4]]));
    await expect(loadTokenizer(user)).rejects.toThrow(PaprecError);
    await expect(loadTokenizer(user)).rejects.toThrow(`${user}: piece 9 ("<sep>") has type 4`);
    const bpe = path.join(tmp, 'bpe.model');
    writeFileSync(bpe, spmBytes(TOY, { modelType: 2 }));
    await expect(loadTokenizer(bpe)).rejects.toThrow(`${bpe}: SentencePiece model type 2 is not Unigram`);
  });
});

describe('other tokenizer.json files go through @huggingface/tokenizers', () => {
  const wordPiece = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [],
      special_tokens: { '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, user: 4, _: 5, '12': 6, like: 7, '##s': 8 },
    },
  };

  it('encodes a WordPiece tokenizer; word starts are pieces without ##', async () => {
    const file = path.join(tmp, 'wordpiece.json');
    writeFileSync(file, JSON.stringify(wordPiece));
    const tok = await loadTokenizer(file);
    expect(tok).toBeInstanceOf(HfTokenizer);
    expect(tok.vocabSize).toBe(9);
    const ids = tok.encode('User_12 likes zz');
    expect(ids).toEqual([4, 5, 6, 7, 8, 1, 3]);
    expect(tok.encode('likes', { addEos: false })).toEqual([7, 8]);
    expect(tok.wholeWordIds(ids)).toEqual([1, 2, 3, 4, 4, 5, 0]);
    expect(Array.from(tok.wordStartMask())).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0]);
    expect(tok.idToPiece(8)).toBe('##s');
    expect(tok.pieceToId('like')).toBe(7);
    expect(tok.toJSON()).toBe(JSON.stringify(wordPiece));
  });
});

describe('paprec tokenizer convert', () => {
  it('writes a tokenizer.json that loads and encodes like spiece.model', async () => {
    const out = path.join(tmp, 'sub', 'tokenizer.json');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await yargs().command(tokenizerCommand).strict().parseAsync(['tokenizer', 'convert', SPIECE, '-o', out]);
      expect(log.mock.calls.flat().join('\n')).toMatch(/vocab 32100, \d+\.\d\d s/);
    } finally {
      log.mockRestore();
    }
    expect(JSON.parse(readFileSync(out, 'utf8')).model.vocab.length).toBe(32100);
    const [a, b] = await Promise.all([loadTokenizer(out), loadTokenizer(SPIECE)]);
    const text = 'Here is the purchase history list of user_29384 : \n 6617 ,5831 ,8601 \n try to recommend next item to the user';
    expect(a.encode(text)).toEqual(b.encode(text));
  });
});
