// T5 v1.1 backbones (gated-GELU feed-forward; untied head without the d_model^-0.5 rescale, or tied with it;
// num_heads * d_kv != d_model): what is particular to them. Their forward, input gradients, beam search and greedy
// decoding against Hugging Face run with every other fixture in forward.test.ts and generate.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { native } from '../../src/native.js';
import { T5V11_FIXTURES, loadFixture, maxAbsDiff } from '../helpers/golden.js';

describe.each(T5V11_FIXTURES)('fixture %s', (name) => {
  const fx = loadFixture(name);
  const weightFiles = [path.join(fx.dir, 'model.safetensors'), fx.pthFile];
  const models = new Map<string, Promise<Backbone>>();
  // One model per weights file, loaded with the fixture's config.json (gated-gelu, tie_word_embeddings as stored).
  const model = (file: string) => {
    if (!models.has(file)) models.set(file, Backbone.load(file, { config: path.join(fx.dir, 'config.json') }));
    return models.get(file)!;
  };
  afterAll(async () => {
    for (const m of models.values()) (await m).dispose();
  });

  it('the config is a v1.1 one', async () => {
    const c = (await model(weightFiles[0]!)).config;
    expect(c.feedForwardProj).toBe('gated-gelu');
    expect(c.tieWordEmbeddings).toBe(name === 't5v11-tied');
    if (name === 't5v11-tiny') expect(c.numHeads * c.dKv).not.toBe(c.dModel);
    // HF's T5 has no whole-word embeddings: no generation case of these fixtures applies them
    expect(Object.values<any>(fx.json.generate).every((g) => g.whole_word_embeddings_applied === false)).toBe(true);
  });
});

describe('T5 v1.1: the head variant matters', () => {
  it('t5v11-tiny loaded as if tied (lm_head replaced by the embeddings) no longer matches: the untied head is used', async () => {
    const fx = loadFixture('t5v11-tiny');
    const b = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    const tensors = await b.tensors();
    const tied = await Backbone.create({ ...b.config, tieWordEmbeddings: true });
    tensors.delete('lm_head.weight');
    tied.setTensors(tensors);
    const batch = { inputIds: fx.rows('input_ids'), attentionMask: fx.rows('attention_mask'), labels: fx.rows('labels') };
    const good = await b.forward(batch);
    const wrong = await tied.forward(batch);
    expect(maxAbsDiff(good.logits!, fx.f('logits').data)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(wrong.logits!, fx.f('logits').data)).toBeGreaterThan(1e-2);
    b.dispose();
    tied.dispose();
  });
});

describe('T5 v1.1: refusals that remain', () => {
  it('the engine itself refuses an activation it does not implement, by name', () => {
    const config = { vocabSize: 50, dModel: 8, dKv: 4, dFf: 16, numHeads: 2, numLayers: 1, numDecoderLayers: 1 };
    const make = (feedForwardProj: string) => () =>
      new (native().NativeBackbone)({ ...config, feedForwardProj } as never, { device: 'cpu' }).dispose();
    expect(make('gated-silu')).toThrow(/feedForwardProj 'gated-silu': paprec implements relu, gated-relu, gated-gelu and gelu_new/);
    expect(make('gelu')).toThrow(/feedForwardProj 'gelu'/);
    expect(make('gated-gelu')).not.toThrow();
  });

  it('Backbone.create refuses the same before the engine sees it', async () => {
    await expect(Backbone.create({ vocabSize: 50, dModel: 8, dKv: 4, dFf: 16, numHeads: 2, numLayers: 1, feedForwardProj: 'gated-silu' as never }))
      .rejects.toThrow(/feedForwardProj is "gated-silu"; paprec implements "relu", "gated-gelu", "gated-relu", "gelu_new"/);
  });
});
