// The native model against real Hugging Face T5 (transformers 4.2.1) outputs, from both weight files: T5, P5 and the
// T5 v1.1 fixtures (gated-GELU, untied or tied head).
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { FIXTURES, T5V11_FIXTURES, loadFixture, encoderStateDiff, maxAbs, maxAbsDiff } from '../helpers/golden.js';

describe.each([...FIXTURES, ...T5V11_FIXTURES])('fixture %s', (name) => {
  const fx = loadFixture(name);
  const batch = {
    inputIds: fx.rows('input_ids'),
    attentionMask: fx.rows('attention_mask'),
    wholeWordIds: fx.tensors.has('whole_word_ids') ? fx.rows('whole_word_ids') : undefined,
    labels: fx.rows('labels'),
  };
  const weightFiles = [path.join(fx.dir, 'model.safetensors'), fx.pthFile];
  const loaded: Backbone[] = [];
  afterAll(() => loaded.forEach((b) => b.dispose()));

  it.each(weightFiles)('logits, encoder states and losses match from %s', async (file) => {
    const backbone = await Backbone.load(file, { config: path.join(fx.dir, 'config.json') });
    loaded.push(backbone);
    const out = await backbone.forward(batch, { logits: true, encoderHidden: true });
    expect(maxAbsDiff(out.logits!, fx.f('logits').data)).toBeLessThanOrEqual(1e-4);
    const states = encoderStateDiff(out.encoderHidden!, fx.f('encoder_last_hidden_state').data, batch.attentionMask);
    expect(states.real).toBeLessThanOrEqual(1e-4);
    expect(states.padded).toBe(0);
    const p5 = fx.f('p5_loss').data[0]!;
    expect(Math.abs(out.loss - p5) / Math.abs(p5)).toBeLessThanOrEqual(1e-5);
    const perExample = fx.f('p5_loss_per_example').data;
    perExample.forEach((v, i) => expect(Math.abs(out.lossPerExample[i]! - v) / Math.abs(v)).toBeLessThanOrEqual(1e-5));
  });

  it.each(weightFiles)('input-embedding gradients to the fixture rule (1e-6 + 1e-4 * max|golden|), from %s', async (file) => {
    const backbone = await Backbone.load(file, { config: path.join(fx.dir, 'config.json') });
    loaded.push(backbone);
    const out = await backbone.inputGradients(batch);
    const golden = fx.f('grad_token_embeds_of_p5_loss').data;
    expect(fx.json.tolerances.grad_rule).toBe('1e-6 + 1e-4 * max|golden grad|');
    expect(out.shape).toEqual(fx.f('grad_token_embeds_of_p5_loss').shape);
    expect(maxAbsDiff(out.gradients, golden)).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(golden));
  });
});
