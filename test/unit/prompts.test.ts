import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Tokenizer } from '../../src/types.js';
import { EOS_ID } from '../../src/types.js';
import { PaprecError } from '../../src/errors.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset } from '../../src/data/dataset.js';
import {
  MANUAL_PROMPTS,
  SegmentEncoder,
  automatedPrompt,
  baselinePrompt,
  defaultUserToken,
  historyJoiner,
  manualPrompt,
  manualText,
  promptExamples,
  renderExample,
  renderedText,
  taskArgText,
  trainingTemplates,
  withTaskToken,
  type PromptExample,
} from '../../src/prompts/index.js';

const shared = (p: string) => fileURLToPath(new URL(`../../../shared/${p}`, import.meta.url));
const SPIECE = shared('data/t5/spiece.model');

let tok: Tokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(SPIECE);
});

/** Cases of the HF T5Tokenizer fixture (the tokenizer P5 used), by text. */
const fixture = new Map<string, number[]>(
  readFileSync(shared('fixtures/tokenizer/t5_encodings.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { text: string; ids: number[] })
    .map((c) => [c.text, c.ids]),
);

function seqExample(user: number, history: number[], joiner: string, target = 1): PromptExample {
  return { task: 'sequential', user, history, joiner, target: String(target) };
}

describe('manual prompts', () => {
  it('carry the exact wording of REFERENCE.md §3', () => {
    const ref = readFileSync(shared('REFERENCE.md'), 'utf8');
    const texts = new Map<string, string>();
    for (const m of ref.matchAll(/^\| \w+ \| (\d-\d+) \| (yes|no) \| `([^`]+)`/gm)) texts.set(m[1]!, m[3]!);
    const extra = /\(2-1\): `([^`]+)`/.exec(ref);
    texts.set('2-1', extra![1]!);
    expect([...texts.keys()].sort()).toEqual(['2-1', '2-13', '2-3', '3-1', '3-12', '5-7', '5-8']);
    for (const [id, text] of texts) {
      const expected = text.replaceAll('\\n', '\n').replaceAll('{u}', '{user}').replaceAll('{i}', '{item}');
      expect(manualPrompt(id).template, id).toBe(expected);
      expect(manualPrompt(id).fromP5).toBe(true);
    }
    for (const m of ref.matchAll(/^\| \w+ \| (\d-\d+) \| (yes|no) \|/gm)) {
      expect(manualPrompt(m[1]!).kind).toBe(m[2] === 'yes' ? 'seen' : 'unseen');
    }
  });

  it('look up baselines by task and kind', () => {
    expect(baselinePrompt({ task: 'sequential', kind: 'seen' }).id).toBe('2-3');
    expect(baselinePrompt({ task: 'sequential', kind: 'unseen' }).id).toBe('2-13');
    expect(baselinePrompt({ task: 'explanation', kind: 'unseen' }).id).toBe('3-12');
    expect(baselinePrompt({ task: 'matching', kind: 'seen' }).id).toBe('5-7');
    expect(() => manualPrompt('9-9')).toThrow(PaprecError);
  });

  it('list only seen templates of the right task for training', () => {
    expect(trainingTemplates('sequential').map((p) => p.id)).toEqual(['2-1', '2-3', 'x2-1', 'x2-2']);
    expect(trainingTemplates('matching').map((p) => p.id)).toEqual(['5-7', 'x5-1']);
    expect(trainingTemplates('explanation').map((p) => p.id)).toEqual(['3-1', 'x3-1', 'x3-2']);
    for (const task of ['sequential', 'matching', 'explanation'] as const) {
      for (const p of trainingTemplates(task)) {
        expect(p.kind).toBe('seen');
        expect(p.task).toBe(task);
      }
    }
    const unseen = MANUAL_PROMPTS.filter((p) => p.kind === 'unseen').map((p) => p.id);
    expect(unseen.sort()).toEqual(['2-13', '3-12', '5-8']);
  });

  it('render to the ids the HF T5Tokenizer gave P5', () => {
    const enc = new SegmentEncoder(tok);
    const cases: Array<[string, PromptExample, string]> = [
      ['2-3', seqExample(123, [4521, 88, 1203], ' , '),
        'Here is the purchase history list of user_123 : \n 4521 , 88 , 1203 \n try to recommend next item to the user'],
      ['2-13', seqExample(9, [11, 12, 13, 14, 15], ' -> '),
        'According to the purchase history of user_9 : \n 11 -> 12 -> 13 -> 14 -> 15 \n Can you recommend the next possible item to the user ?'],
      // the template's double space after "." collapses like the fixture's single one
      ['5-8', { task: 'matching', user: 1988, candidates: [1025, 7803, 12, 99999, 4], joiner: ' , ', target: '12' },
        'We want to make recommendation for user_1988 . Select the best item from these candidates : \n 1025 , 7803 , 12 , 99999 , 4'],
    ];
    for (const [id, ex, text] of cases) {
      const golden = fixture.get(text);
      expect(golden, text).toBeDefined();
      expect(renderExample(enc, manualPrompt(id), ex).inputIds, id).toEqual(golden);
    }
  });

  it('fill rating and title, with item_{i} for a missing title', () => {
    const ex: PromptExample = { task: 'explanation', user: 5, item: 42, rating: 4.0, target: 'nice' , joiner: ' , ' };
    expect(manualText(manualPrompt('3-12'), ex)).toBe('Generate a 4-star explanation for user_5 about item_42');
    expect(manualText(manualPrompt('3-1'), ex)).toBe('Generate an explanation for user_5 about this product : item_42');
    expect(manualText(manualPrompt('3-1'), { ...ex, title: 'Lip Balm' })).toBe(
      'Generate an explanation for user_5 about this product : Lip Balm',
    );
    expect(() => manualText(manualPrompt('3-12'), { ...ex, rating: undefined })).toThrow(/rating/);
  });
});

describe('the automated prompt', () => {
  it('defaults [T_u] to the word start of "?" (T5 has no ▁? piece: the bare ▁)', () => {
    expect(tok.pieceToId('▁?')).toBeUndefined();
    const def = defaultUserToken(tok);
    expect(tok.idToPiece(def)).toBe('▁');
    expect(tok.encode('?', { addEos: false })[0]).toBe(def);
    expect(tok.wholeWordIds([def, def])).toEqual([1, 2]);
  });

  it('renders {task arg}[T_r1..T_rl][T_u]</s> with the fixture ids for the task arg', () => {
    const the = tok.pieceToId('▁the')!;
    const best = tok.pieceToId('▁best')!;
    const p = automatedPrompt(tok, { task: 'sequential', taskTokens: [the, best, the], personalized: true, numUsers: 10 });
    const users = p.userTokens!.slice();
    users[6] = best; // user 7
    const prompt = { ...p, userTokens: users };
    const row = renderExample(new SegmentEncoder(tok), prompt, seqExample(7, [1, 22, 333], ' -> '));
    const golden = fixture.get('user_7 : \n 1 -> 22 -> 333 \n')!; // ends with </s>
    const text = golden.slice(0, -1);
    expect(row.inputIds).toEqual([...text, the, best, the, best, EOS_ID]);
    expect(row.slotPositions).toEqual([text.length, text.length + 1, text.length + 2, text.length + 3]);
    const ww = tok.wholeWordIds(row.inputIds);
    const lastTextWord = ww[text.length - 1]!;
    expect(row.slotPositions.map((s) => ww[s])).toEqual([lastTextWord + 1, lastTextWord + 2, lastTextWord + 3, lastTextWord + 4]);
  });

  it('places the block first for prefix and [T_u] first for start', () => {
    const enc = new SegmentEncoder(tok);
    const a = tok.pieceToId('▁A')!;
    const u = tok.pieceToId('▁user')!;
    const ex = seqExample(2, [5, 6], ' , ');
    const argIds = tok.encode(taskArgText('sequential', ex), { addEos: false });
    const base = automatedPrompt(tok, { task: 'sequential', length: 2, taskTokens: [a, a], personalized: true, numUsers: 3 });
    const prompt = { ...base, userTokens: Int32Array.from([a, u, a]), placement: 'prefix' as const, userPosition: 'start' as const };
    const row = renderExample(enc, prompt, ex);
    expect(row.inputIds).toEqual([u, a, a, ...argIds, EOS_ID]);
    expect(row.slotPositions).toEqual([1, 2, 0]); // task slots first, then the user slot
    expect(renderedText(prompt, ex, (id) => tok.idToPiece(id))).toBe('[▁user][▁A][▁A] user_2 : \n 5 , 6 \n');

    const plain = automatedPrompt(tok, { task: 'sequential', length: 6 });
    const r2 = renderExample(enc, plain, ex);
    expect(r2.inputIds.length).toBe(argIds.length + 7);
    expect(r2.slotPositions).toEqual([0, 1, 2, 3, 4, 5].map((s) => argIds.length + s));
    expect(plain.userTokens).toBeUndefined();
  });

  it('keeps user and item ids in the explanation task arg', () => {
    const ex: PromptExample = { task: 'explanation', user: 3, item: 77, rating: 5, title: 'Rose Oil', target: 'x', joiner: ' , ' };
    expect(taskArgText('explanation', ex)).toBe('user_3 : item_77 : Rose Oil');
    expect(taskArgText('explanation', { ...ex, title: undefined })).toBe('user_3 : item_77 : item_77');
    expect(taskArgText('matching', { ...ex, candidates: [4, 5] })).toBe('user_3 : \n 4 , 5 \n');
  });

  it('refuses bad options and tokens', () => {
    const q = tok.encode('?', { addEos: false })[1]!; // "?" without a word mark
    expect(() => automatedPrompt(tok, { task: 'sequential', length: 0 })).toThrow(/l >= 1/);
    expect(() => automatedPrompt(tok, { task: 'sequential', taskTokens: [q] })).toThrow(/not a word-start piece/);
    expect(() => automatedPrompt(tok, { task: 'sequential', taskTokens: [tok.vocabSize] })).toThrow(/not a token id/);
    expect(() => automatedPrompt(tok, { task: 'sequential', personalized: true })).toThrow(/numUsers/);
    expect(() => automatedPrompt(tok, { task: 'sequential', userTokens: [3] })).toThrow(/non-personalized/);
    const p = automatedPrompt(tok, { task: 'matching', length: 2 });
    expect(() => withTaskToken(p, 2, 3)).toThrow(/outside/);
    expect(withTaskToken(p, 1, tok.pieceToId('▁A')!).taskTokens[1]).toBe(tok.pieceToId('▁A'));
    expect(p.taskTokens[1]).toBe(p.defaultUserToken); // the copy left the original alone
    const enc = new SegmentEncoder(tok);
    expect(() => renderExample(enc, p, seqExample(1, [2], ' , '))).toThrow(/matching prompt cannot render a sequential/);
    const pu = automatedPrompt(tok, { task: 'sequential', personalized: true, numUsers: 2 });
    expect(() => renderExample(enc, pu, seqExample(3, [2], ' , '))).toThrow(/user 3 is outside/);
  });
});

describe('rendering Beauty', () => {
  it('encodes word by word exactly as whole strings, for every prompt', async () => {
    const ds = await loadDataset(shared('data/beauty'));
    const enc = new SegmentEncoder(tok);
    const seq = promptExamples(ds, 'sequential', 'val', ds.seed).filter((_, i) => i % 37 === 0);
    const match = promptExamples(ds, 'matching', 'test', ds.seed).filter((_, i) => i % 401 === 0);
    expect(seq.length).toBeGreaterThan(500);
    for (const p of MANUAL_PROMPTS) {
      if (p.task === 'explanation') continue;
      for (const ex of p.task === 'sequential' ? seq : match) {
        const text = manualText(p, ex);
        expect(enc.encodeWithEos(text)).toEqual(tok.encode(text));
      }
    }
    for (const ex of seq) {
      const text = taskArgText('sequential', ex);
      const ids: number[] = [];
      enc.encodeInto(text, ids);
      expect(ids).toEqual(tok.encode(text, { addEos: false }));
    }
    // every fixture case, cacheable or not, comes out as P5's tokenizer gave it
    for (const [text, ids] of fixture) {
      if (text.includes('<') || text.includes('</s>')) continue; // special-token cases: prompts never hold them
      expect(enc.encodeWithEos(text), JSON.stringify(text)).toEqual(ids);
    }
    // text outside the cacheable alphabet goes to the tokenizer whole
    const odd = 'Crème brûlée-scented lotion, über-soft, señorita approved.';
    expect(enc.encodeWithEos(odd)).toEqual(fixture.get(odd));
  });

  it('encodes any rendered id list word by word exactly as whole strings (property)', () => {
    const enc = new SegmentEncoder(tok);
    const prompts = MANUAL_PROMPTS.filter((p) => p.task !== 'explanation');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: prompts.length - 1 }),
        fc.integer({ min: 1, max: 99999 }),
        fc.array(fc.integer({ min: 1, max: 999999 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(' , ', ' -> '),
        (pi, user, items, joiner) => {
          const p = prompts[pi]!;
          const ex: PromptExample = { task: p.task, user, history: items, candidates: items, joiner, target: '1' };
          const text = manualText(p, ex);
          expect(enc.encodeWithEos(text)).toEqual(tok.encode(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('draws the history joiner per example, deterministically', () => {
    const js = Array.from({ length: 200 }, (_, u) => historyJoiner(2022, u + 1, 'val'));
    expect(new Set(js)).toEqual(new Set([' , ', ' -> ']));
    expect(Array.from({ length: 200 }, (_, u) => historyJoiner(2022, u + 1, 'val'))).toEqual(js);
    const other = Array.from({ length: 200 }, (_, u) => historyJoiner(7, u + 1, 'val'));
    expect(other).not.toEqual(js);
  });
});
