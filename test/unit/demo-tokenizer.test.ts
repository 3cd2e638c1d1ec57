import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCorpus, generateWorld, writeDemoData } from '../../src/demo/index.js';
import { buildDemoTokenizer } from '../../src/demo/tokenizerBuilder.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { MANUAL_PROMPTS } from '../../src/prompts/manual.js';
import { EOS_ID, PAD_ID, UNK_ID } from '../../src/types.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-demo-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const world = generateWorld({ seed: 3 });
const corpus = demoCorpus(world);
const json = buildDemoTokenizer(corpus);
const file = path.join(tmp, 'tokenizer.json');
writeFileSync(file, json);

const PROMPT = 'Here is the purchase history list of user_12 : \n 4 , 187 \n try to recommend next item to the user';

describe('buildDemoTokenizer', () => {
  it('is deterministic and small, with T5 specials at 0, 1, 2', () => {
    expect(buildDemoTokenizer(demoCorpus(generateWorld({ seed: 3 })))).toBe(json);
    const vocab = JSON.parse(json).model.vocab as Array<[string, number]>;
    expect(vocab.slice(0, 3).map((v) => v[0])).toEqual(['<pad>', '</s>', '<unk>']);
    expect(vocab.length).toBeGreaterThan(500);
    expect(vocab.length).toBeLessThan(3000);
    expect(new Set(vocab.map((v) => v[0])).size).toBe(vocab.length);
  });

  it('loads with paprec loadTokenizer and encodes a P5 prompt with multi-piece ids', async () => {
    const tok = await loadTokenizer(file);
    expect(tok.vocabSize).toBe(JSON.parse(json).model.vocab.length);
    expect([tok.idToPiece(PAD_ID), tok.idToPiece(EOS_ID), tok.idToPiece(UNK_ID)]).toEqual(['<pad>', '</s>', '<unk>']);
    const ids = tok.encode(PROMPT);
    const pieces = ids.map((i) => tok.idToPiece(i));
    expect(ids[ids.length - 1]).toBe(EOS_ID);
    expect(ids).not.toContain(UNK_ID);
    expect(pieces.slice(0, 11)).toEqual(['▁Here', '▁is', '▁the', '▁purchase', '▁history', '▁list', '▁of', '▁user', '_', '1', '2']);
    expect(pieces.slice(11, 16)).toEqual(['▁:', '▁4', '▁,', '▁18', '7']);
    // user_12 is one whole word of four pieces; 187 one whole word of two.
    const ww = tok.wholeWordIds(ids);
    expect(ww.slice(7, 11)).toEqual([8, 8, 8, 8]);
    expect(ww[14]).toBe(ww[15]);
    expect(ww[ww.length - 1]).toBe(0);
    expect(tok.decode(ids)).toBe(PROMPT.replace(/\s+/g, ' '));
    // Tabs, CR and newlines are whitespace (the tokenizer's charsmap), as in T5.
    expect(tok.encode('the\titem\r\n  user', { addEos: false }).map((i) => tok.idToPiece(i))).toEqual(['▁the', '▁item', '▁user']);
    // Numbers: the longest word-start piece (two digits at most), then single digits.
    expect(tok.encode('1234', { addEos: false }).map((i) => tok.idToPiece(i))).toEqual(['▁12', '3', '4']);
    expect(tok.encode('88 5 100', { addEos: false }).map((i) => tok.idToPiece(i))).toEqual(['▁88', '▁5', '▁10', '0']);
  });

  it('makes every corpus word one piece, and spells unseen words without <unk>', async () => {
    const tok = await loadTokenizer(file);
    for (const title of world.items.slice(0, 40).map((it) => it.title)) {
      const ids = tok.encode(title, { addEos: false });
      expect(ids).toHaveLength(title.split(' ').length);
    }
    const ids = tok.encode('zebra xylophone', { addEos: false });
    expect(ids).not.toContain(UNK_ID);
    expect(tok.decode(ids)).toBe('zebra xylophone');
    // Trigger slots may only hold whole-word pieces: the mask covers `▁` pieces and excludes specials.
    const mask = tok.wordStartMask();
    expect(mask[tok.pieceToId('▁recommend')!]).toBe(1);
    expect(mask[tok.pieceToId('8')!]).toBe(0);
    expect(mask[EOS_ID]).toBe(0);
  });

  it('gives the same ids through @huggingface/tokenizers as through paprec for every manual prompt', async () => {
    const tok = await loadTokenizer(file);
    const lib = new HfLibTokenizer(JSON.parse(json), {});
    const texts = [
      PROMPT,
      ...MANUAL_PROMPTS.map((p) =>
        p.template
          .replace('{user}', '345')
          .replace('{history}', '12 , 7 , 190')
          .replace('{candidates}', '3 , 41 , 5')
          .replace('{title}', world.items[0]!.title)
          .replace('{rating}', '4')
          .replace('{item}', '77'),
      ),
      ...world.users[0]!.interactions.map((x) => x.explanation),
    ];
    for (const t of texts) expect(lib.encode(t).ids).toEqual(tok.encode(t));
  });

  it('with users: N, spells user_u as one piece _u for u <= N (the same through @huggingface/tokenizers), items unchanged', async () => {
    const withUsers = buildDemoTokenizer(corpus, { users: 400 });
    const f = path.join(tmp, 'tokenizer-users.json');
    writeFileSync(f, withUsers);
    const tok = await loadTokenizer(f);
    const lib = new HfLibTokenizer(JSON.parse(withUsers), {});
    const pieces = (t: string) => tok.encode(t, { addEos: false }).map((i) => tok.idToPiece(i));
    expect(pieces('user_1 user_57 user_400')).toEqual(['▁user', '_1', '▁user', '_57', '▁user', '_400']);
    expect(pieces('user_401')).toEqual(['▁user', '_40', '1']); // beyond N: the longest user piece, then digits
    // Items keep the number rule: a word-start piece of at most two digits, then single digits.
    expect(pieces('1234 105 42')).toEqual(['▁12', '3', '4', '▁10', '5', '▁42']);
    for (const t of [PROMPT, 'Pick the most suitable item from the following list and recommend to user_345 : \n 3 , 41 , 105']) {
      expect(lib.encode(t).ids).toEqual(tok.encode(t));
    }
    expect(() => buildDemoTokenizer(corpus, { users: -1 })).toThrow(/users/);
  });

  it('writeDemoData writes a data folder and a tokenizer that agree', async () => {
    const out = path.join(tmp, 'demo');
    const small = await writeDemoData(out, { seed: 3, users: 200, items: 150 });
    expect(small.dataDir).toBe(path.join(out, 'data'));
    expect(small.world.users).toHaveLength(200);
    const tok = await loadTokenizer(small.tokenizerPath);
    const title = small.world.items[149]!.title;
    expect(tok.encode(title, { addEos: false })).toHaveLength(title.split(' ').length);
  });
});
