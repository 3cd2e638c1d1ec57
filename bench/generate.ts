/**
 * Generation and slot-gradient speed at p5-small shape (random weights; PAPREC_BENCH_MODEL / PAPREC_BENCH_DTYPE pick
 * another preset and dtype, see benchModel): beam searches / s for 5 beams returning 5
 * and 20 returning 10 (source ~45 tokens, target 4), the gradient pass in examples / s, and one surrogate pass
 * (5 beams, top 5) over 2,000 examples. Each against the naive comparison path in the same process (no KV cache,
 * cross-attention K/V recomputed per beam and step, one example at a time), reported as a ratio. Also CPU shards:
 * 1 shard with intra-op threads vs 2 shards single-threaded each.
 */
import { Backbone } from '../src/backbone/index.js';
import { ResidentExampleSet } from '../src/engine/index.js';
import { native } from '../src/native.js';
import { toNativeBatch } from '../src/backbone/batch.js';
import { benchModel, randomExampleSet, randomRows } from './shapes.js';
import { timeAsync } from './harness.js';

const SOURCE = 45;
const MAX_LENGTH = 5; // start token + 4 target tokens

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, (performance.now() - t) / 1000];
}

export async function benchGenerate(): Promise<Record<string, number | string>> {
  const quick = process.env.PAPREC_BENCH_QUICK === '1';
  const model = benchModel();
  const backbone = await Backbone.create(model.preset, { seed: 1, device: process.env.PAPREC_BENCH_DEVICE ?? 'cpu', dtype: model.dtype });
  const V = backbone.config.vocabSize;
  const info = native().info();
  const out: Record<string, number | string> = {
    model: model.preset,
    dtype: backbone.dtype,
    libtorch: info.torchVersion,
    device: backbone.device,
    threads: info.threads,
  };
  const B = 16;
  const rows = randomRows(B, SOURCE, V, 7);
  const nb = toNativeBatch({ inputIds: rows });
  const naiveRows = quick ? 2 : 4;
  const naiveBatch = toNativeBatch({ inputIds: rows.slice(0, naiveRows) });
  for (const [beams, ret] of [
    [5, 5],
    [20, 10],
  ] as const) {
    const opts = { numBeams: beams, numReturnSequences: ret, maxLength: MAX_LENGTH, earlyStopping: true };
    await native().generate(backbone.native, toNativeBatch({ inputIds: rows.slice(0, 2) }), opts); // warm-up
    // Benchmark.js samples both paths; one op = one batch of B (cached) or naiveRows (naive) beam searches.
    const t = await timeAsync(
      {
        cached: () => native().generate(backbone.native, nb, opts),
        naive: () => native().generateNaive(backbone.native, naiveBatch, opts),
      },
      { maxTime: quick ? 1 : 4 },
    );
    const fastRate = t.cached!.hz * B;
    const slowRate = t.naive!.hz * naiveRows;
    out[`beam${beams}_top${ret}_rme_percent`] = Math.max(t.cached!.rme, t.naive!.rme);
    out[`beam${beams}_top${ret}_searches_per_s`] = fastRate;
    out[`beam${beams}_top${ret}_naive_searches_per_s`] = slowRate;
    out[`beam${beams}_top${ret}_speedup_x`] = fastRate / slowRate;
  }

  // Gradient pass: per-example P5 loss gradients at the slots (task + per-user), weights frozen.
  const gradN = quick ? 32 : 64;
  const gset = ResidentExampleSet.upload(backbone, randomExampleSet(gradN, SOURCE, V, 5, 11), { batchSize: 16 });
  const assignment = { taskTokens: Int32Array.from([100, 200, 300, 400, 500]) };
  await gset.slotGradients(assignment, { sample: 4 }); // warm-up
  const [, gsec] = await timed(() => gset.slotGradients(assignment, { perUser: true }));
  out.gradient_pass_examples_per_s = gradN / gsec;
  // naive comparison: one example at a time through Backbone.inputGradients
  const labels = randomRows(8, 4, V, 12).map((r) => [...r.slice(0, 3), 1]);
  const [, nsec] = await timed(async () => {
    for (let i = 0; i < 8; i++) await backbone.inputGradients({ inputIds: [rows[i]!], labels: [labels[i]!] });
  });
  out.gradient_naive_examples_per_s = 8 / nsec;
  out.gradient_speedup_x = gradN / gsec / (8 / nsec);
  gset.dispose();

  // Surrogate pass: 5 beams, top 5, over 2,000 examples. On a CPU a measured subset is extrapolated (2 cores take
  // ~5 min for the whole pass); on CUDA the full 2,000 run.
  const total = 2000;
  const n = backbone.device === 'cpu' ? (quick ? 100 : 400) : total;
  const sopts = { numBeams: 5, numReturnSequences: 5, maxLength: MAX_LENGTH, outcome: 'ranks' as const };
  const sset = ResidentExampleSet.upload(backbone, randomExampleSet(n, SOURCE, V, 5, 13), { batchSize: 32, streams: 1 });
  const [, ssec] = await timed(() => sset.evaluate([assignment], { ...sopts, streams: 1 }));
  out.surrogate_2000_wall_s = (ssec * total) / n;
  out.surrogate_examples_measured = n;
  if (backbone.device === 'cpu' || backbone.device.startsWith('cuda')) {
    const [, s2] = await timed(() => sset.evaluate([assignment], { ...sopts, streams: 2 }));
    out.surrogate_2000_wall_s_2_shards = (s2 * total) / n;
  }
  sset.dispose();
  const naiveN = quick ? 4 : 8;
  const [, naiveSec] = await timed(() =>
    native().generateNaive(backbone.native, toNativeBatch({ inputIds: randomRows(naiveN, SOURCE, V, 13) }), {
      numBeams: 5,
      numReturnSequences: 5,
      maxLength: MAX_LENGTH,
      earlyStopping: true,
    }),
  );
  out.surrogate_2000_naive_wall_s_extrapolated = (naiveSec * total) / naiveN;
  out.surrogate_speedup_x = out.surrogate_2000_naive_wall_s_extrapolated / out.surrogate_2000_wall_s;
  backbone.dispose();
  return out;
}
