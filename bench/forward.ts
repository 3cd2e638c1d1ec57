/**
 * Forward and forward + backward-to-inputs speed at p5-small shape (random weights; PAPREC_BENCH_MODEL /
 * PAPREC_BENCH_DTYPE pick another preset and dtype, see benchModel): batch 16, source ~100 tokens, target 4;
 * examples / s, with the LibTorch version, device and threads.
 */
import { Backbone } from '../src/backbone/index.js';
import { native } from '../src/native.js';
import { benchModel, randomRows } from './shapes.js';

export async function benchForward(): Promise<Record<string, number | string>> {
  const model = benchModel();
  const backbone = await Backbone.create(model.preset, { seed: 1, device: process.env.PAPREC_BENCH_DEVICE ?? 'cpu', dtype: model.dtype });
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
  const dtype = backbone.dtype;
  backbone.dispose();
  return {
    model: model.preset,
    dtype,
    libtorch: info.torchVersion,
    device,
    threads: info.threads,
    forward_examples_per_s: forward,
    forward_backward_to_inputs_examples_per_s: backward,
  };
}
