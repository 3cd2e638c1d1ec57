// T5 v1.1 backbones (gated-GELU feed-forward; untied head without the d_model^-0.5 rescale, or tied with it;
// num_heads * d_kv != d_model) against real Hugging Face transformers 4.2.1 outputs, from both weight files:
// forward, input gradients, beam search and greedy decoding.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { native } from '../../src/native.js';
import { T5V11_FIXTURES, loadFixture, encoderStateDiff, maxAbs, maxAbsDiff } from '../helpers/golden.js';

function ints(data: BigInt64Array | Float32Array): number[] {
  return Array.from(data as BigInt64Array, Number);
}

describe.each(T5V11_FIXTURES)('fixture %s', (name) => {
  const fx = loadFixture(name);
  const batch = {
    inputIds: fx.rows('input_ids'),
    attentionMask: fx.rows('attention_mask'),
    labels: fx.rows('labels'),
  };
  const genBatch = { inputIds: fx.rows('gen.input_ids'), attentionMask: fx.rows('gen.attention_mask') };
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
  });

  it.each(weightFiles)('logits and encoder states to 1e-4, losses to 1e-5 relative, from %s', async (file) => {
    const out = await (await model(file)).forward(batch, { logits: true, encoderHidden: true });
    expect(maxAbsDiff(out.logits!, fx.f('logits').data)).toBeLessThanOrEqual(1e-4);
    const states = encoderStateDiff(out.encoderHidden!, fx.f('encoder_last_hidden_state').data, batch.attentionMask);
    expect(states.real).toBeLessThanOrEqual(1e-4);
    expect(states.padded).toBe(0);
    const p5 = fx.f('p5_loss').data[0]!;
    expect(Math.abs(out.loss - p5) / Math.abs(p5)).toBeLessThanOrEqual(1e-5);
    const perExample = fx.f('p5_loss_per_example').data;
    expect(out.lossPerExample.length).toBe(perExample.length);
    perExample.forEach((v, i) => expect(Math.abs(out.lossPerExample[i]! - v) / Math.abs(v)).toBeLessThanOrEqual(1e-5));
  });

  it.each(weightFiles)('input-embedding gradients to the fixture rule (1e-6 + 1e-4 * max|golden|), from %s', async (file) => {
    const out = await (await model(file)).inputGradients(batch);
    const golden = fx.f('grad_token_embeds_of_p5_loss').data;
    expect(fx.json.tolerances.grad_rule).toBe('1e-6 + 1e-4 * max|golden grad|');
    expect(out.shape).toEqual(fx.f('grad_token_embeds_of_p5_loss').shape);
    expect(maxAbsDiff(out.gradients, golden)).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(golden));
  });

  const cases = Object.keys(fx.json.generate);
  const runs = weightFiles.flatMap((file) => cases.map((c) => [c, file] as const));
  it.each(runs)('%s from %s: sequences exact, scores / logits to 1e-4', async (caseName, file) => {
    const b = await model(file);
    const c = fx.json.generate[caseName];
    const k = c.kwargs;
    expect(c.whole_word_embeddings_applied).toBe(false);
    const out = await b.generate(genBatch, {
      numBeams: k.num_beams,
      numReturnSequences: k.num_return_sequences ?? 1,
      maxLength: k.max_length,
      minLength: k.min_length,
      earlyStopping: k.early_stopping,
    });
    const golden = fx.tensors.get(`gen.${caseName}.sequences`)!;
    expect(out.shape).toEqual(golden.shape);
    expect(Array.from(out.sequences)).toEqual(ints(golden.data));
    if (k.num_beams > 1) {
      expect(maxAbsDiff(out.scores!, fx.f(`gen.${caseName}.sequences_scores`).data)).toBeLessThanOrEqual(1e-4);
    } else {
      expect(out.scores).toBeNull();
      expect(maxAbsDiff(out.chosenLogits!, fx.f(`gen.${caseName}.chosen_token_logits`).data)).toBeLessThanOrEqual(1e-4);
      const free = await b.generate(genBatch, { numBeams: 1, numReturnSequences: 1, maxLength: k.max_length });
      const without = fx.tensors.get(`gen.${caseName}.sequences_without_min_length`)!;
      expect(free.shape).toEqual(without.shape);
      expect(Array.from(free.sequences)).toEqual(ints(without.data));
    }
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
