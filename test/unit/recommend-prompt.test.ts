// Loading the prompt a Recommender applies: manual ids and a search's prompt.json (no addon).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCorpus, generateWorld } from '../../src/demo/index.js';
import { buildDemoTokenizer } from '../../src/demo/tokenizerBuilder.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadRecommendPrompt } from '../../src/recommend/prompt.js';
import { defaultUserToken } from '../../src/prompts/index.js';
import type { Tokenizer } from '../../src/types.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-rec-prompt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let tok: Tokenizer;
let words: number[];

beforeAll(async () => {
  writeFileSync(path.join(tmp, 'tokenizer.json'), buildDemoTokenizer(demoCorpus(generateWorld({ seed: 3 }))));
  tok = await loadTokenizer(path.join(tmp, 'tokenizer.json'));
  words = ['\u2581good', '\u2581next', '\u2581item', '\u2581buy', '\u2581best'].map((p) => tok.pieceToId(p)!);
  expect(words.every((w) => w !== undefined)).toBe(true);
});

/** A prompt.json in the shape `paprec search` writes (one folder per file). */
function searchFolder(name: string, state?: object): string {
  const dir = path.join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const file = path.join(dir, 'prompt.json');
  writeFileSync(
    file,
    JSON.stringify({
      task: 'sequential',
      prompts: [
        { kind: 'non-personalized', length: 5, placement: 'suffix', personalized: false, taskTokens: { ids: words, text: [] } },
        {
          kind: 'personalized',
          length: 5,
          placement: 'suffix',
          personalized: true,
          taskTokens: { ids: words.slice().reverse(), text: [] },
          userTokens: [
            { user: 1, id: words[0], text: '' },
            { user: 3, id: words[2], text: '' },
          ],
        },
      ],
    }),
  );
  if (state) writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
  return file;
}

describe('loadRecommendPrompt', () => {
  it('takes manual ids of the ranking tasks and refuses explanation ones', async () => {
    expect(await loadRecommendPrompt('2-3', tok)).toMatchObject({ type: 'manual', task: 'sequential', id: '2-3' });
    expect(await loadRecommendPrompt('5-8', tok)).toMatchObject({ type: 'manual', task: 'matching' });
    await expect(loadRecommendPrompt('3-1', tok)).rejects.toThrow('prompt 3-1: the explanation task generates text, not items; recommend takes a sequential or matching prompt');
    await expect(loadRecommendPrompt('9-9', tok)).rejects.toThrow(/9-9: neither a manual prompt id \(.*2-3.*5-7.*\) nor an existing prompt file/);
  });

  it('reads a search prompt.json: entry 0 by default, #1 the personalized one with the default token for unlisted users', async () => {
    const file = searchFolder('s1');
    const np = await loadRecommendPrompt(file, tok);
    expect(np.type).toBe('automated');
    if (np.type !== 'automated') return;
    expect(Array.from(np.taskTokens)).toEqual(words);
    expect(np.userTokens).toBeUndefined();
    const p = await loadRecommendPrompt(`${file}#1`, tok);
    if (p.type !== 'automated') throw new Error('expected automated');
    expect(Array.from(p.taskTokens)).toEqual(words.slice().reverse());
    expect(Array.from(p.userTokens!)).toEqual([words[0], defaultUserToken(tok), words[2]]);
    expect(p.userPosition).toBe('end');
  });

  it("takes [T_u]'s position from the search's state.json beside the file", async () => {
    const file = searchFolder('s2', { options: { userPosition: 'start' } });
    const p = await loadRecommendPrompt(`${file}#1`, tok);
    expect(p.type === 'automated' && p.userPosition).toBe('start');
  });

  it('names the file, the entry and the field of a bad prompt file', async () => {
    const file = searchFolder('s3');
    await expect(loadRecommendPrompt(`${file}#2`, tok)).rejects.toThrow(/no prompt #2 \(the file has 2\)/);
    await expect(loadRecommendPrompt(`${file}#x`, tok)).rejects.toThrow(/"#x" is not an entry number/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ task: 'sequential', taskTokens: ['good'] }));
    await expect(loadRecommendPrompt(bad, tok)).rejects.toThrow(`${bad}#0: taskTokens: expected an array of token ids`);
    writeFileSync(bad, JSON.stringify({ task: 'sequential', taskTokens: [words[0], 1] }));
    await expect(loadRecommendPrompt(bad, tok)).rejects.toThrow(/bad\.json#0: .*taskTokens\[1\] = 1 is not a word-start piece/);
    writeFileSync(bad, JSON.stringify({ task: 'explanation', taskTokens: [words[0]] }));
    await expect(loadRecommendPrompt(bad, tok)).rejects.toThrow(/the explanation task generates text/);
    writeFileSync(bad, '{"task": ');
    await expect(loadRecommendPrompt(bad, tok)).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});
