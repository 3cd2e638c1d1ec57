/**
 * Training throughput (examples/s) at p5-tiny and p5-small shapes on Beauty-shaped inputs: sequential examples of
 * ../shared/data/beauty rendered with the seen templates, T5's spiece.model vocabulary (32,100), short runs.
 * PAPREC_BENCH_TRAIN_BATCHES=tiny:256,small:32 and PAPREC_BENCH_TRAIN_STEPS=6 change the shapes.
 * On CPU, p5-tiny also runs at batch 32 two ways: one batch over all intra-op threads (the simpler path), and the
 * batch split into parallel shards, one thread each (the trainer's default).
 */
import { fileURLToPath } from 'node:url';
import { Backbone } from '../src/backbone/backbone.js';
import { resolveConfig } from '../src/checkpoint/index.js';
import { loadDataset } from '../src/data/dataset.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { epochExamples, packTrainData } from '../src/train/data.js';
import type { TrainData } from '../src/train/trainer.js';
import { BackboneTrainer } from '../src/train/trainer.js';

const BEAUTY = fileURLToPath(new URL('../../shared/data/beauty', import.meta.url));
const SPIECE = fileURLToPath(new URL('../../shared/data/t5/spiece.model', import.meta.url));
const DEVICE = process.env.PAPREC_BENCH_DEVICE ?? 'cpu';

function firstRows(d: TrainData, n: number): TrainData {
  const m = Math.min(n, d.inputOffsets.length - 1);
  const io = d.inputOffsets.slice(0, m + 1);
  const to = d.targetOffsets.slice(0, m + 1);
  return {
    inputIds: d.inputIds.slice(0, io[m]),
    inputOffsets: io,
    wholeWordIds: d.wholeWordIds.slice(0, io[m]),
    targetIds: d.targetIds.slice(0, to[m]),
    targetOffsets: to,
  };
}

async function measure(
  preset: string,
  batch: number,
  steps: number,
  data: TrainData,
  vocabSize: number,
  shards = 0,
): Promise<{ eps: number; stepMs: number }> {
  const backbone = await Backbone.create(resolveConfig(preset, { vocabSize }), { seed: 1, device: DEVICE });
  try {
    const trainer = new BackboneTrainer(backbone, { lr: 1e-3, seed: 1, shards });
    // One warm-up step (allocator, first-touch), then the timed steps.
    await trainer.runEpoch(trainer.upload(firstRows(data, batch)), { epoch: 0, batchSize: batch });
    const timed = trainer.upload(firstRows(data, batch * steps));
    const t = performance.now();
    const r = await trainer.runEpoch(timed, { epoch: 1, batchSize: batch });
    const seconds = (performance.now() - t) / 1000;
    return { eps: r.examples / seconds, stepMs: (seconds * 1000) / Math.max(1, r.step - 1) };
  } finally {
    backbone.dispose();
  }
}

export async function benchTrain(): Promise<Record<string, number | string>> {
  const batches = Object.fromEntries(
    (process.env.PAPREC_BENCH_TRAIN_BATCHES ?? 'tiny:256,small:32').split(',').map((kv) => kv.split(':') as [string, string]),
  );
  const steps = Number(process.env.PAPREC_BENCH_TRAIN_STEPS ?? 5);
  const tokenizer = await loadTokenizer(SPIECE);
  const ds = await loadDataset(BEAUTY, { maxUsers: 4000 });
  const data = packTrainData(epochExamples(ds, { tasks: ['sequential'], epoch: 0, seed: 1 }), tokenizer);
  const rows = data.inputOffsets.length - 1;
  const out: Record<string, number | string> = {
    'train.source_tokens_mean': data.inputIds.length / rows,
    'train.target_tokens_mean': data.targetIds.length / rows,
  };
  for (const [name, preset] of [['tiny', 'p5-tiny'], ['small', 'p5-small']] as const) {
    const batch = Number(batches[name] ?? (name === 'tiny' ? 256 : 32));
    const r = await measure(preset, batch, name === 'tiny' ? steps : Math.max(2, Math.ceil(steps / 2)), data, tokenizer.vocabSize);
    out[`train.${preset}.batch`] = batch;
    out[`train.${preset}.examples_per_s`] = r.eps;
    out[`train.${preset}.step_ms`] = r.stepMs;
  }
  if (DEVICE === 'cpu') {
    const one = await measure('p5-tiny', 32, steps * 4, data, tokenizer.vocabSize, 1);
    const sharded = await measure('p5-tiny', 32, steps * 4, data, tokenizer.vocabSize, 0);
    out['train.p5-tiny.batch32.one_batch.examples_per_s'] = one.eps;
    out['train.p5-tiny.batch32.parallel_shards.examples_per_s'] = sharded.eps;
    out['train.p5-tiny.batch32.shard_speedup'] = sharded.eps / one.eps;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await benchTrain());
}
