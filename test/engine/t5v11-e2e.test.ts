// A T5 v1.1-shaped backbone end to end: a short pretraining run from scratch (gated-GELU, untied head,
// num_heads * d_kv != d_model, more vocabulary rows than the tokenizer has pieces), then a PAP-REC search on the
// checkpoint it wrote. The rows beyond the tokenizer are never proposed as trigger tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { writeDemoData } from '../../src/demo/index.js';
import { modelSlotMask, topCandidates } from '../../src/engine/index.js';
import { runSearch } from '../../src/search/index.js';
import { readHistory } from '../../src/search/history.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { pretrain } from '../../src/train/index.js';
import { runEval } from '../../src/protocol/eval.js';
import { Recommender, generatedText, itemOfText } from '../../src/recommend/index.js';
import { loadDataset } from '../../src/data/index.js';
import { manualPrompt } from '../../src/prompts/index.js';
import { SHARED } from '../helpers/golden.js';

const EXTRA_ROWS = 11;
let tmp: string;
let demo: { dataDir: string; tokenizerPath: string };
let pieces: number;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-t5v11-'));
  demo = await writeDemoData(path.join(tmp, 'demo'), { seed: 4, users: 30, items: 120, minLength: 5, maxLength: 8 });
  pieces = (await loadTokenizer(demo.tokenizerPath)).vocabSize;
});
afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

describe('T5 v1.1-shaped backbone', () => {
  const modelDir = () => path.join(tmp, 'pretrained');

  it('pretrains from scratch and writes a v1.1 checkpoint with its model card', async () => {
    const r = await pretrain({
      data: demo.dataDir,
      tokenizer: demo.tokenizerPath,
      config: {
        vocabSize: pieces + EXTRA_ROWS, dModel: 32, dKv: 12, dFf: 48, numHeads: 2, numLayers: 2, numDecoderLayers: 1,
        feedForwardProj: 'gated-gelu', tieWordEmbeddings: false,
      },
      out: modelDir(),
      epochs: 2,
      batchSize: 8,
      lr: 5e-3,
      seed: 2,
      validationUsers: 20,
      validationBeams: 5,
    });
    expect(r.completed).toBe(true);
    expect(r.history).toHaveLength(2);
    for (const h of r.history) expect(Number.isFinite(h.trainLoss)).toBe(true);
    // training moves the loss down on this small world
    expect(r.history[1]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    const json = JSON.parse(readFileSync(path.join(modelDir(), 'config.json'), 'utf8'));
    expect(json).toMatchObject({ feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, vocab_size: pieces + EXTRA_ROWS, d_kv: 12, num_heads: 2 });
    expect(readFileSync(path.join(modelDir(), 'README.md'), 'utf8')).toContain('T5 v1.1 / Flan-T5 style (gated-gelu feed-forward, untied lm_head)');
    const b = await Backbone.load(modelDir());
    const t = await b.tensors();
    expect(t.has('lm_head.weight')).toBe(true);
    expect(t.has('decoder.block.0.layer.2.DenseReluDense.wi_1.weight')).toBe(true);
    b.dispose();
  });

  it('a search on that checkpoint runs, and every candidate and accepted token is a tokenizer piece', async () => {
    const out = path.join(tmp, 'search');
    const r = await runSearch({
      data: demo.dataDir, model: modelDir(), tokenizer: demo.tokenizerPath, out,
      task: 'sequential', maxUsers: 20, k: 3, seed: 5, length: 3, epochs: 3, runs: 1,
    });
    expect(r.interrupted).toBe(false);
    const v = r.state.variants[0]!;
    expect(v.bestScore!).toBeGreaterThanOrEqual(v.startScore!);
    const history = await readHistory(path.join(out, 'history.jsonl'));
    expect(history.length).toBeGreaterThan(1);
    const mask = (await loadTokenizer(demo.tokenizerPath)).wordStartMask();
    const rounds = history.filter((h) => h.kind === 'task');
    expect(rounds.length).toBeGreaterThan(0);
    for (const h of rounds) {
      expect(h.candidates).toHaveLength(3);
      for (const c of h.candidates) expect(mask[c.id], `candidate ${c.id} (${c.text})`).toBe(1);
    }
    for (const id of v.best.taskTokens) expect(id).toBeLessThan(pieces);
  });
});

describe('the T5 v1.1 presets', () => {
  it('pretrain --config t5-v1_1-tiny: the preset\'s shapes with the tokenizer\'s vocabulary', async () => {
    const out = path.join(tmp, 'preset');
    const r = await pretrain({
      data: demo.dataDir, tokenizer: demo.tokenizerPath, config: 't5-v1_1-tiny', out,
      epochs: 1, batchSize: 16, lr: 5e-3, seed: 1, maxUsers: 10, validationUsers: 10, validationBeams: 0,
    });
    expect(r.completed).toBe(true);
    expect(Number.isFinite(r.history[0]!.trainLoss)).toBe(true);
    const json = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(json).toMatchObject({
      vocab_size: pieces, d_model: 128, d_kv: 24, num_heads: 4, d_ff: 256, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false,
    });
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toContain('P5 on T5 v1.1 / Flan-T5 style');
  });
});

describe('vocabulary rows beyond the tokenizer', () => {
  it('paprec eval runs a 32,128-row v1.1 model with T5\'s 32,100-piece tokenizer, and refuses fewer rows', async () => {
    const base = { vocabSize: 32128, dModel: 32, dKv: 12, dFf: 48, numHeads: 2, numLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false } as const;
    const model = path.join(tmp, 'v11-32128');
    const b = await Backbone.create(base, { seed: 3 });
    await b.save(model);
    b.dispose();
    const opts = {
      data: path.join(SHARED, 'data/beauty'), model, tokenizer: path.join(SHARED, 'data/t5/spiece.model'),
      task: 'sequential', prompt: 'seen', runs: 1, beams: 4, maxLength: 5, maxUsers: 20, device: 'cpu',
    } as const;
    const r = await runEval(opts);
    expect(r.examples).toBe(20);
    for (const s of Object.values(r.metrics)) expect(s.mean).toBeGreaterThanOrEqual(0);
    const small = path.join(tmp, 'v11-32000');
    const c = await Backbone.create({ ...base, vocabSize: 32000 }, { seed: 3 });
    await c.save(small);
    c.dispose();
    await expect(runEval({ ...opts, model: small })).rejects.toThrow(/the model's vocabulary \(32000 rows\) is smaller than the tokenizer's \(32100 pieces\)/);
    // A search with the same pair: the 28 rows beyond the pieces are never candidates.
    const out = path.join(tmp, 'search-32128');
    const sr = await runSearch({
      data: opts.data, model, tokenizer: opts.tokenizer, out, task: 'sequential', maxUsers: 20, k: 3, seed: 2, length: 2, epochs: 2, runs: 1,
    });
    expect(sr.interrupted).toBe(false);
    const rounds = (await readHistory(path.join(out, 'history.jsonl'))).filter((h) => h.kind === 'task');
    expect(rounds.length).toBeGreaterThan(0);
    for (const h of rounds) for (const c of h.candidates) expect(c.id).toBeLessThan(32100);
  }, 300_000);

  it('are never slot candidates, even when they would score best', async () => {
    const b = await Backbone.create(
      { vocabSize: 40, dModel: 8, dKv: 4, dFf: 16, numHeads: 2, numLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false },
      { seed: 1 },
    );
    const tokenizerMask = new Uint8Array(32).fill(1); // a 32-piece tokenizer, every piece a word start
    const g = Float32Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 1 : -1));
    // Rows 32..39 are -10 g: the best scores of -e_t . g by far.
    const t = await b.tensors();
    const shared = t.get('shared.weight')!;
    for (let row = 32; row < 40; row++) for (let d = 0; d < 8; d++) shared.data[row * 8 + d] = -10 * g[d]!;
    b.setTensors(t);
    const unmasked = await topCandidates(b, g, 1, 5, new Uint8Array(40).fill(1));
    expect([...unmasked.ids].every((id) => id >= 32)).toBe(true);
    const masked = await topCandidates(b, g, 1, 5, modelSlotMask(tokenizerMask, 40));
    expect([...masked.ids].every((id) => id < 32)).toBe(true);
    b.dispose();
  });

  it('an output holding one names no item: generatedText reads it as empty (plain decoding would misread the rest)', async () => {
    const tok = await loadTokenizer(demo.tokenizerPath);
    const ids = tok.encode('1234', { addEos: false });
    expect(ids.length).toBeGreaterThan(1);
    const spliced = Int32Array.from([ids[0]!, pieces + 3, ...ids.slice(1)]);
    expect(tok.decode(spliced).trim()).toBe('1234'); // the hazard: the extra row decodes to nothing
    expect(generatedText(spliced, tok)).toBe('');
    expect(itemOfText(generatedText(spliced, tok))).toBeUndefined();
    expect(itemOfText(generatedText(Int32Array.from(ids), tok))).toBe(1234);
  });

  it('the recommender takes a model with extra rows and never generates them, however the head favours them', async () => {
    const tok = await loadTokenizer(demo.tokenizerPath);
    const ds = await loadDataset(demo.dataDir);
    const b = await Backbone.create(
      { vocabSize: pieces + EXTRA_ROWS, dModel: 16, dKv: 4, dFf: 32, numHeads: 2, numLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false },
      { seed: 7 },
    );
    const original = await b.tensors();
    // Extra head rows +-c u_i: whatever the decoder state h, one of each pair scores c |h . u_i|; as c grows free
    // decoding goes into them, while the recommender (vocabLimit = the tokenizer's pieces) never does.
    let free = 0;
    for (const c of [5, 10, 20, 40]) {
      const t = new Map(original);
      const head = { ...original.get('lm_head.weight')!, data: Float32Array.from(original.get('lm_head.weight')!.data) };
      for (let e = 0; e < EXTRA_ROWS; e++) {
        for (let d = 0; d < 16; d++) head.data[(pieces + e) * 16 + d] = (e % 2 === 0 ? c : -c) * (d === (e >> 1) ? 1 : 0.1);
      }
      t.set('lm_head.weight', head);
      b.setTensors(t);
      const rec = new Recommender({ backbone: b, tokenizer: tok, prompt: manualPrompt('2-3'), dataset: ds });
      const prepared = rec.prepare({ user: 1, k: 5 }, { beams: 5 });
      const [out] = await rec.generate([prepared], { beams: 5, returnSequences: 5 });
      out!.ids.forEach((ids) => expect(ids.every((id) => id < pieces)).toBe(true));
      const unbanned = await b.generate({ inputIds: [[...prepared.inputIds]] }, { numBeams: 5, numReturnSequences: 5, maxLength: 12 });
      if (Array.from(unbanned.sequences).some((id) => id >= pieces)) free++;
      const r = await rec.recommend({ user: 1, k: 5 }, { beams: 5 });
      for (const item of r.items) expect(out!.texts).toContain(String(item));
    }
    expect(free, 'free decoding of the same model goes into the extra rows').toBeGreaterThan(0);
    b.dispose();
    const small = await Backbone.create({ vocabSize: pieces - 1, dModel: 16, dKv: 4, dFf: 32, numHeads: 2, numLayers: 1 }, { seed: 7 });
    expect(() => new Recommender({ backbone: small, tokenizer: tok, prompt: manualPrompt('2-3') }))
      .toThrow(`recommender: the model's vocabulary (${pieces - 1} rows) is smaller than the tokenizer's (${pieces} pieces)`);
    small.dispose();
  });

  it('modelSlotMask pads with zeros and refuses a model smaller than the tokenizer', () => {
    const m = modelSlotMask(Uint8Array.from([0, 1, 1]), 5);
    expect([...m]).toEqual([0, 1, 1, 0, 0]);
    expect(() => modelSlotMask(Uint8Array.from([0, 1, 1]), 2)).toThrow(/the model has 2 vocabulary rows but the tokenizer 3 pieces/);
  });
});
