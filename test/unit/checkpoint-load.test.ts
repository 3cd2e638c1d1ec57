import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/checkpoint/index.js';
import { parseHfConfig, resolveConfig } from '../../src/checkpoint/config.js';
import { type Tensor, canonicalizeStateDict, expectedTensors, validateStateDict } from '../../src/checkpoint/names.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PTH: Record<string, string> = {
  't5-tiny': 'state_dict.pth', 'p5-tiny': 'state_dict_module_prefix.pth', 'p5-eos': 'state_dict.pth',
  't5v11-tiny': 'state_dict.pth', 't5v11-tied': 'state_dict.pth',
};

function expectSameTensors(a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    expect(b.get(k)!.shape, k).toEqual(t.shape);
    const u = b.get(k)!.data;
    expect(Buffer.from(u.buffer, u.byteOffset, u.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), k).toBe(true);
  }
}

/** A fixture's raw safetensors tensors, to edit into bad checkpoints. */
const rawTensors = (name: string) => readSafetensors(`${FIXTURES}${name}/model.safetensors`);

/** A checkpoint folder holding the given tensors and a fixture's config.json. */
async function folderWith(dirName: string, tensors: Map<string, Tensor>, configFrom = 'p5-tiny'): Promise<string> {
  const dir = path.join(tmp, dirName);
  mkdirSync(dir, { recursive: true });
  copyFileSync(`${FIXTURES}${configFrom}/config.json`, path.join(dir, 'config.json'));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

describe('loadCheckpoint: fixtures from both weight files', () => {
  for (const name of Object.keys(PTH)) {
    it(`${name}: folder, .safetensors and .pth give the same canonical tensors`, async () => {
      const dir = await loadCheckpoint(`${FIXTURES}${name}`);
      const st = await loadCheckpoint(`${FIXTURES}${name}/model.safetensors`);
      const pth = await loadCheckpoint(`${FIXTURES}${name}/${PTH[name]}`);
      const config = parseHfConfig(JSON.parse(readFileSync(`${FIXTURES}${name}/config.json`, 'utf8')), name);
      expect(dir.config).toEqual(config);
      expect(pth.config).toEqual(config);
      expect(dir.source).toBe(`${FIXTURES}${name}/model.safetensors`);
      expect([...dir.tensors.keys()]).toEqual([...expectedTensors(config).keys()]);
      // Only an untied head (t5v11-tiny) keeps lm_head.weight, as the last tensor.
      expect(dir.tensors.has('lm_head.weight')).toBe(name === 't5v11-tiny');
      if (name === 't5v11-tiny') expect([...dir.tensors.keys()].at(-1)).toBe('lm_head.weight');
      expect(dir.tensors.has('encoder.block.0.layer.1.DenseReluDense.wi_0.weight')).toBe(name.startsWith('t5v11'));
      expectSameTensors(dir.tensors, st.tensors);
      expectSameTensors(dir.tensors, pth.tensors);
    });
  }
});

describe('loadCheckpoint: where the config comes from', () => {
  it('a lone .pth needs a config: the error says how to give one; a preset or object then works', async () => {
    const dir = path.join(tmp, 'lone');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'p5.pth');
    copyFileSync(`${FIXTURES}p5-eos/state_dict.pth`, file);
    await expect(loadCheckpoint(file)).rejects.toThrow(`${file}: no model config: put a config.json beside it or pass the config option (a preset name: p5-small`);
    const config = resolveConfig(`${FIXTURES}p5-eos`);
    expect((await loadCheckpoint(file, { config })).tensors.size).toBe(expectedTensors(config).size);
    expect((await loadCheckpoint(dir, { config: `${FIXTURES}p5-eos/config.json` })).source).toBe(file);
    // The preset's dimensions do not fit the tiny fixture: every mismatch is named.
    const err = (await loadCheckpoint(file, { config: 'p5-tiny' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('shared.weight has shape [500, 64], expected [32100, 128] (vocab_size 32100 x d_model 128)');
    expect(err.message).toMatch(/unexpected: .*encoder\.block\.2\.layer\.0\.SelfAttention\.q\.weight/);
  });

  it('missing paths and empty folders', async () => {
    await expect(loadCheckpoint(path.join(tmp, 'nothing-here'))).rejects.toThrow(/nothing-here: checkpoint not found/);
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(loadCheckpoint(empty)).rejects.toThrow(/empty: no model\.safetensors \(or a \.pth \/ \.pt \/ \.bin state dict\)/);
    await expect(loadCheckpoint(`${FIXTURES}p5-tiny/config.json`)).rejects.toThrow(/unknown checkpoint format "\.json"/);
  });
});

describe('loadCheckpoint: mismatches are named', () => {
  it('vocab mismatch', async () => {
    await expect(loadCheckpoint(`${FIXTURES}p5-tiny`, { config: resolveConfig(`${FIXTURES}p5-tiny`, { vocabSize: 400 }) }))
      .rejects.toThrow('1 mis-shaped: shared.weight has shape [500, 64], expected [400, 64] (vocab_size 400 x d_model 64)');
  });

  it('dimension mismatch (d_ff), every tensor listed', async () => {
    const err = (await loadCheckpoint(`${FIXTURES}p5-tiny`, { config: resolveConfig(`${FIXTURES}p5-tiny`, { dFf: 96 }) })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('10 mis-shaped');
    expect(err.message).toContain('encoder.block.0.layer.1.DenseReluDense.wi.weight has shape [128, 64], expected [96, 64] (d_ff x d_model)');
    expect(err.message).toContain('decoder.block.1.layer.2.DenseReluDense.wo.weight has shape [64, 128], expected [64, 96] (d_model x d_ff)');
  });

  it('a plain T5 loaded as P5: the missing whole-word table is named, with the fix', async () => {
    await expect(loadCheckpoint(`${FIXTURES}t5-tiny`, { config: resolveConfig(`${FIXTURES}t5-tiny`, { wholeWordEmbeddings: true }) }))
      .rejects.toThrow(/1 missing: encoder\.whole_word_embeddings\.weight \(a plain T5 checkpoint: set whole_word_embeddings: false/);
  });

  it('missing and unexpected tensors, all named in one message', async () => {
    const t = await rawTensors('p5-tiny');
    t.delete('decoder.block.1.layer.1.EncDecAttention.k.weight');
    t.delete('encoder.final_layer_norm.weight');
    t.set('encoder.block.0.layer.0.SelfAttention.extra.weight', { shape: [1], data: new Float32Array(1), dtype: 'F32' });
    const dir = await folderWith('missing-unexpected', t);
    const err = (await loadCheckpoint(dir).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`${dir}/model.safetensors: the checkpoint does not match the model config (vocab_size 500, d_model 64`);
    expect(err.message).toContain('2 missing: encoder.final_layer_norm.weight; decoder.block.1.layer.1.EncDecAttention.k.weight');
    expect(err.message).toContain('1 unexpected: encoder.block.0.layer.0.SelfAttention.extra.weight');
  });

  it('long lists are capped', () => {
    const config = resolveConfig({ vocabSize: 10, dModel: 4, dKv: 2, dFf: 8, numHeads: 2, numLayers: 12 });
    const err = (() => { try { validateStateDict(new Map(), config, 'x'); } catch (e) { return e as Error; } return null; })();
    const total = expectedTensors(config).size;
    expect(err!.message).toContain(`${total} missing:`);
    expect(err!.message).toContain(`... and ${total - 20} more`);
  });

  it('under a tied config, an lm_head that differs from the embeddings is refused, naming the key that loads it', async () => {
    const t = await rawTensors('p5-tiny');
    const head = t.get('lm_head.weight')!;
    const changed = Float32Array.from(head.data);
    changed[7] = changed[7]! + 1;
    t.set('lm_head.weight', { ...head, data: changed });
    const dir = await folderWith('untied', t);
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      'lm_head.weight differs from shared.weight, but the config ties the LM head to the token embeddings (tie_word_embeddings true, ' +
        'as in T5 v1.0 / P5); an untied head (T5 v1.1 / Flan-T5) loads with tie_word_embeddings: false in config.json',
    );
    // ... and with that key it loads, the head kept as its own tensor.
    const untied = await loadCheckpoint(dir, { config: resolveConfig(`${FIXTURES}p5-tiny`, { tieWordEmbeddings: false }) });
    expect(untied.tensors.get('lm_head.weight')!.data).toEqual(changed);
    expect(untied.tensors.get('shared.weight')!.data).toEqual(t.get('shared.weight')!.data);
  });

  it('the encoder / decoder embed_tokens must equal shared.weight in every family', async () => {
    const t = await rawTensors('t5v11-tiny');
    const e = t.get('decoder.embed_tokens.weight')!;
    t.set('decoder.embed_tokens.weight', { ...e, data: e.data.map((v, i) => (i === 3 ? v + 1 : v)) });
    await expect(loadCheckpoint(await folderWith('embed-differs', t, 't5v11-tiny')))
      .rejects.toThrow('decoder.embed_tokens.weight differs from shared.weight; the T5 family ties the encoder\'s and decoder\'s token embeddings');
  });

  it('an untied config without lm_head.weight: named as missing, with the hint', async () => {
    const t = await rawTensors('t5v11-tiny');
    t.delete('lm_head.weight');
    await expect(loadCheckpoint(await folderWith('no-head', t, 't5v11-tiny')))
      .rejects.toThrow(/1 missing: lm_head\.weight \(no separate lm_head\.weight: a tied model, tie_word_embeddings true\)/);
  });

  it('gated vs plain feed-forward mismatches are named, with the config key that fits', async () => {
    const asV10 = (await loadCheckpoint(`${FIXTURES}t5v11-tied`, { config: resolveConfig(`${FIXTURES}t5v11-tied`, { feedForwardProj: 'relu' }) })
      .catch((e: unknown) => e)) as Error;
    expect(asV10.message).toContain('missing: encoder.block.0.layer.1.DenseReluDense.wi.weight');
    expect(asV10.message).toContain('unexpected: encoder.block.0.layer.1.DenseReluDense.wi_0.weight; encoder.block.0.layer.1.DenseReluDense.wi_1.weight');
    expect(asV10.message).toContain('a T5 v1.1 / Flan-T5 model, feed_forward_proj "gated-gelu"');
    const asV11 = (await loadCheckpoint(`${FIXTURES}t5-tiny`, { config: resolveConfig(`${FIXTURES}t5-tiny`, { feedForwardProj: 'gated-gelu' }) })
      .catch((e: unknown) => e)) as Error;
    expect(asV11.message).toContain('missing: encoder.block.0.layer.1.DenseReluDense.wi_0.weight');
    expect(asV11.message).toContain('a T5 v1.0 model, feed_forward_proj "relu"');
    // a mis-shaped gated weight names its dimensions
    const t = await rawTensors('t5v11-tiny');
    t.set('decoder.block.2.layer.2.DenseReluDense.wi_1.weight', { shape: [32, 48], data: new Float32Array(32 * 48) });
    await expect(loadCheckpoint(await folderWith('wi1-shape', t, 't5v11-tiny')))
      .rejects.toThrow('1 mis-shaped: decoder.block.2.layer.2.DenseReluDense.wi_1.weight has shape [32, 48], expected [48, 32] (d_ff x d_model)');
  });

  it('a v1.1 checkpoint with P5 whole-word embeddings loads when the config says so, and is named otherwise', async () => {
    const t = await rawTensors('t5v11-tiny');
    t.set('encoder.whole_word_embeddings.weight', { shape: [512, 32], data: new Float32Array(512 * 32).fill(0.5) });
    const dir = await folderWith('v11-ww', t, 't5v11-tiny');
    await expect(loadCheckpoint(dir)).rejects.toThrow(/1 unexpected: encoder\.whole_word_embeddings\.weight \(the checkpoint has whole-word embeddings/);
    const ok = await loadCheckpoint(dir, { config: resolveConfig(`${FIXTURES}t5v11-tiny`, { wholeWordEmbeddings: true }) });
    expect(ok.tensors.get('encoder.whole_word_embeddings.weight')!.data[0]).toBe(0.5);
  });

  it('module. prefixes and the stale cross-attention bias are accepted; one tied name is enough', async () => {
    const t = await rawTensors('p5-tiny');
    const edited = new Map<string, Tensor>();
    for (const [k, v] of t) if (!['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight'].includes(k)) edited.set(`module.${k}`, v);
    edited.set('module.decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight', { shape: [32, 4], data: new Float32Array(128) });
    const loaded = await loadCheckpoint(await folderWith('prefixed', edited));
    expectSameTensors(loaded.tensors, (await loadCheckpoint(`${FIXTURES}p5-tiny`)).tensors);
  });

  it('canonicalizeStateDict refuses a name given twice (with and without module.)', () => {
    const w = { shape: [1], data: new Float32Array(1) };
    expect(() => canonicalizeStateDict(new Map([['a.weight', w], ['module.a.weight', w]]), 'src')).toThrow(/src: tensor a\.weight appears twice/);
  });
});

describe('saveCheckpoint', () => {
  it('save -> load is bit-exact and writes the HF layout (all tied names, config.json, extra files)', async () => {
    for (const name of ['p5-tiny', 't5-tiny', 't5v11-tiny', 't5v11-tied']) {
      const src = await loadCheckpoint(`${FIXTURES}${name}/${PTH[name]}`, { config: `${FIXTURES}${name}` });
      const out = path.join(tmp, `saved-${name}`);
      await saveCheckpoint(out, src.config, src.tensors, { extraFiles: { 'README.md': 'saved by a test\n' } });
      const back = await loadCheckpoint(out);
      expect(back.config).toEqual(src.config);
      expectSameTensors(src.tensors, back.tensors);
      // Same tensors, same order, same layout: the reference writer's file, byte for byte.
      expect(readFileSync(path.join(out, 'model.safetensors')).equals(readFileSync(`${FIXTURES}${name}/model.safetensors`))).toBe(true);
      const json = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(json.whole_word_embeddings).toBe(name === 'p5-tiny');
      expect(json.whole_word_size).toBe(512);
      expect([json.feed_forward_proj, json.tie_word_embeddings]).toEqual([src.config.feedForwardProj, src.config.tieWordEmbeddings]);
      expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toBe('saved by a test\n');
    }
  });

  it('writes a model card naming the family unless the caller gives its own README.md', async () => {
    const src = await loadCheckpoint(`${FIXTURES}t5v11-tiny`);
    const out = path.join(tmp, 'card');
    await saveCheckpoint(out, src.config, src.tensors);
    const card = readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('T5 v1.1 / Flan-T5 style (gated-gelu feed-forward, untied lm_head)');
    expect(card).toContain('| d_model / d_kv x num_heads / d_ff | 32 / 8 x 3 / 48 |');
  });

  it('refuses tensors that do not fit the config, and odd extra file names', async () => {
    const src = await loadCheckpoint(`${FIXTURES}p5-tiny`);
    await expect(saveCheckpoint(path.join(tmp, 'bad'), resolveConfig('p5-tiny'), src.tensors)).rejects.toThrow(/tensors to save: the checkpoint does not match/);
    await expect(saveCheckpoint(path.join(tmp, 'bad2'), src.config, src.tensors, { extraFiles: { '../x': 'no' } }))
      .rejects.toThrow(/extra file name "\.\.\/x" must be a plain file name/);
  });
});
