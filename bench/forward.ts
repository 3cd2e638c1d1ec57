/**
 * Forward and forward + backward-to-inputs speed at p5-small shape (random weights): batch 16, source ~100 tokens,
 * target 4; examples / s, with the LibTorch version, device and threads.
 */
import { Backbone } from '../src/backbone/index.js';
import { native } from '../src/native.js';
import { randomRows } from './shapes.js';

export async function benchForward(): Promise<Record<string, number | string>> {
  const backbone = await Backbone.create('p5-small', { seed: 1, device: process.env.PAPREC_BENCH_DEVICE ?? 'cpu' });
  const V = backbone.config.vocabSize;
  const info = native().info();
  const B = 16;
  const reps = process.env.PAPREC_BENCH_QUICK === '1' ? 1 : 3;
  const batch = { inputIds: randomRows(B, 100, V, 3), labels: randomRows(B, 4, V, 4).map((r) => [...r.slice(0, 3), 1]) };
  await backbone.forward(batch, { logits: false }); // warm-up
  let t = performance.now();
  for (let i = 0; i < reps; i++) await backbone.forward(batch, { logits: false });
  const forward = (B * reps) / ((performance.now() - t) / 1000);
  await backbone.inputGradients(batch);
  t = performance.now();
  for (let i = 0; i < reps; i++) await backbone.inputGradients(batch);
  const backward = (B * reps) / ((performance.now() - t) / 1000);
  const device = backbone.device;
  backbone.dispose();
  return {
    libtorch: info.torchVersion,
    device,
    threads: info.threads,
    forward_examples_per_s: forward,
    forward_backward_to_inputs_examples_per_s: backward,
  };
}
