// `paprec soft-prompt` end to end on a tiny random backbone and the demo world: the command writes soft.json, and
// `paprec eval` reads it as the soft prompt (row "soft prompt") and as its projection (FILE#projected); broken
// files are refused by name, and readers that take only discrete prompts refuse the embeddings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { runEval } from '../../src/protocol/eval.js';
import { readPromptFile } from '../../src/prompts/promptFile.js';
import type { SoftPromptFile } from '../../src/baselines/softPrompt.js';
import { runSearch } from '../../src/search/index.js';
import { defaultUserToken } from '../../src/prompts/automated.js';
import { loadState } from '../../src/search/state.js';
import type { Tokenizer } from '../../src/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
let data: string;
let tokenizerPath: string;
let tokenizer: Tokenizer;
let model: string;
let soft: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'paprec-softcli-'));
  const demo = await writeDemoData(tmp, { seed: 3, users: 40, items: 140, minLength: 5, maxLength: 8 });
  data = demo.dataDir;
  tokenizerPath = demo.tokenizerPath;
  tokenizer = await loadTokenizer(tokenizerPath);
  const b = await Backbone.create({ vocabSize: tokenizer.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, numDecoderLayers: 2, wholeWordSize: 128 }, { seed: 2 });
  model = path.join(tmp, 'model');
  await b.save(model);
  await b.dispose();
  writeFileSync(path.join(tmp, 'cli.mts'), `import { main } from ${JSON.stringify(path.join(ROOT, 'src/cli/main.ts'))};\nawait main(process.argv.slice(2));\n`);
  soft = path.join(tmp, 'soft.json');
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const paprec = (argv: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(tmp, 'cli.mts'), ...argv], { cwd: ROOT, encoding: 'utf8', env: process.env });
const evalOpts = () => ({ data, model, tokenizer: tokenizerPath, task: 'sequential' as const, runs: 1, beams: 4, maxLength: 6, maxUsers: 30, device: 'cpu' });

describe('paprec soft-prompt', () => {
  it('writes soft.json; eval reads it as the soft prompt and as its projection', async () => {
    const args = ['soft-prompt', '--data', data, '--model', model, '--tokenizer', tokenizerPath, '--task', 'sequential', '--length', '3',
      '--steps', '30', '--lr', '0.05', '--batch-size', '16', '--max-users', '30', '--device', 'cpu', '-o', soft];
    const r = paprec(args);
    expect(r.stderr).toMatch(/wrote .*soft\.json/);
    expect(r.status).toBe(0);
    const file = JSON.parse(readFileSync(soft, 'utf8')) as SoftPromptFile;
    expect(file).toMatchObject({ kind: 'soft prompt', task: 'sequential', length: 3, placement: 'suffix', dModel: 32 });
    expect(file.embeddings).toHaveLength(3);
    for (const row of file.embeddings) expect(row).toHaveLength(32);
    expect(file.losses).toHaveLength(30);
    expect(file.losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(file.losses.slice(0, 5).reduce((a, b) => a + b) / 5);
    expect(file.projection.distance).toBe('L2');
    expect(file.projection.pieces).toEqual(file.projection.taskTokens.map((t) => tokenizer.idToPiece(t)));
    for (const t of file.projection.taskTokens) expect(tokenizer.wordStartMask()[t]).toBe(1);
    // the same seed writes the same file
    const again = path.join(tmp, 'again.json');
    expect(paprec([...args.slice(0, -1), again]).status).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(soft, 'utf8'));

    const s = await runEval({ ...evalOpts(), prompt: soft });
    expect(s.table.rows.map((row) => row.kind)).toEqual(['soft prompt']);
    const p = await runEval({ ...evalOpts(), prompt: `${soft}#projected` });
    expect(p.table.rows.map((row) => row.kind)).toEqual([`${soft}#projected`]);
    for (const rep of [s, p]) {
      expect(rep.examples).toBe(30);
      expect(Object.keys(rep.metrics)).toEqual(['HR@5', 'NDCG@5', 'HR@10', 'NDCG@10']);
    }
    // the projection is a discrete prompt of those ids; the soft prompt carries the embeddings exactly
    const projected = await readPromptFile(`${soft}#projected`, tokenizer);
    expect(Array.from(projected.taskTokens)).toEqual(file.projection.taskTokens);
    expect(projected.slotEmbeddings).toBeUndefined();
    const embedded = await readPromptFile(soft, tokenizer, { soft: true });
    expect(Array.from(embedded.slotEmbeddings!)).toEqual(file.embeddings.flat());
    await expect(runEval({ ...evalOpts(), prompt: soft, constrained: true })).rejects.toThrow(/--constrained .* use FILE#projected/);
  }, 180_000);

  it('refuses broken soft prompt files by name, and the embeddings where only discrete prompts are taken', async () => {
    const file = JSON.parse(readFileSync(soft, 'utf8')) as SoftPromptFile;
    const write = (name: string, f: unknown) => {
      const p = path.join(tmp, name);
      writeFileSync(p, JSON.stringify(f));
      return p;
    };
    await expect(readPromptFile(soft, tokenizer)).rejects.toThrow(/holds a soft prompt .* use FILE#projected/);
    const nan = structuredClone(file);
    nan.embeddings[1]![4] = Number.NaN; // JSON writes null
    await expect(readPromptFile(write('nan.json', nan), tokenizer, { soft: true })).rejects.toThrow(/embeddings\[1\]\[4\] = null is not a finite number/);
    const short = structuredClone(file);
    short.embeddings[2]!.pop();
    await expect(readPromptFile(write('short.json', short), tokenizer, { soft: true })).rejects.toThrow(/embeddings\[2\]: expected 32 numbers/);
    const rows = structuredClone(file);
    rows.embeddings.pop();
    await expect(readPromptFile(write('rows.json', rows), tokenizer, { soft: true })).rejects.toThrow(/expected 3 rows \(one per task slot\), got 2/);
    // rows of another width than the model's d_model: the engine names slotEmbeddings
    const wide = structuredClone(file);
    wide.embeddings = wide.embeddings.map((r) => [...r, ...r]);
    await expect(runEval({ ...evalOpts(), prompt: write('wide.json', wide) })).rejects.toThrow(/slotEmbeddings: 192 values, expected numTaskSlots x dModel = 3 x 32/);
    const plain = write('plain.json', { task: 'sequential', taskTokens: file.projection.taskTokens });
    await expect(readPromptFile(`${plain}#projected`, tokenizer)).rejects.toThrow(/#projected names the projection of a soft prompt file/);
    await expect(runEval({ ...evalOpts(), task: 'matching', prompt: soft })).rejects.toThrow(/the prompt is for task sequential, the run is matching/);
  }, 60_000);

  it('search --init starts the searches of its length from the projection', async () => {
    // the trained file's projection may be the search's own start (every slot `?`): give it other word starts
    const file = JSON.parse(readFileSync(soft, 'utf8')) as SoftPromptFile;
    const mask = tokenizer.wordStartMask();
    const words = [...mask.keys()].filter((t) => mask[t] === 1 && t !== defaultUserToken(tokenizer));
    file.projection.taskTokens = [words[5]!, words[9]!, words[2]!];
    const init = path.join(tmp, 'init.json');
    writeFileSync(init, JSON.stringify(file));
    const out = path.join(tmp, 'search');
    const base = { data, model, tokenizer: tokenizerPath, task: 'sequential', maxUsers: 30, k: 3, seed: 5, epochs: 1, runs: 1, skipTest: true, init };
    const stopped = new AbortController();
    stopped.abort(); // stop at the first safe point: the initial state is written
    const r = await runSearch({ ...base, out, length: '3', personalized: true, signal: stopped.signal });
    expect(r.interrupted).toBe(true);
    const state = await loadState(out);
    expect(state.variants.map((v) => v.spec.name)).toEqual(['np-l3', 'p-l3']);
    for (const v of state.variants) expect(v.current.taskTokens).toEqual(file.projection.taskTokens);
    await expect(runSearch({ ...base, out: path.join(tmp, 'search5'), length: '5' })).rejects.toThrow(/--init holds 3 task tokens, the search's lengths are 5: pass --length 3/);
    await expect(runSearch({ ...base, out, resume: true })).rejects.toThrow(/--init starts a fresh search/);
  }, 60_000);
});
