/**
 * `npm run bench -- vs-hf`: paprec against Hugging Face transformers on the same machine, in the same run.
 *
 * The same p5-small-shaped random weights (config.json + model.safetensors written by Hugging Face itself), batch 16,
 * sources of 35-55 tokens (random lengths, padded), 4-token targets. Each measure runs Hugging Face and paprec
 * alternately (PAIRS pairs, the order flipped every pair); the speedup is the median of the per-pair ratios HF / paprec,
 * fp32 against fp32 and bf16 against bf16. Agreement is checked on the way (fp32 sequences against Hugging Face's, bf16
 * beams against each side's own fp32). One table is printed; bench/index.ts writes the numbers to bench/results/vs-hf.json.
 *
 * PAPREC_BENCH_QUICK=1: one pair (development). PAPREC_BENCH_PAIRS (default 4), PAPREC_BENCH_REPS (timed runs per side
 * per pair, default 1; a training run is 3 steps), PAPREC_BENCH_THREADS (default 2,
 * both sides), PAPREC_HF_REFERENCE (the HF folder; default bench/results/hf-p5-small), PAPREC_HF_PYTHON.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backbone } from '../src/backbone/index.js';
import { PRESETS, toHfConfig, type P5Config } from '../src/checkpoint/index.js';
import { native } from '../src/native.js';
import { selectionDecoding } from '../src/protocol/index.js';
import { BackboneTrainer, type TrainData } from '../src/train/index.js';
import { decode, f32, HfWorker, hfPython, i32 } from './hfWorker.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.env.PAPREC_BENCH_QUICK === '1';
const PAIRS = Number(process.env.PAPREC_BENCH_PAIRS ?? (QUICK ? 1 : 4));
const REPS = Number(process.env.PAPREC_BENCH_REPS ?? 1); // timed runs per side per pair (their median is the pair's time)
const THREADS = Number(process.env.PAPREC_BENCH_THREADS ?? 2);
const BATCH = 16;
const SOURCE_MIN = 35;
const SOURCE_MAX = 55;
const TARGET = 4; // 3 ids + </s>
const TRAIN_STEPS = QUICK ? 2 : 3;
type BenchDtype = 'fp32' | 'bf16';
const DTYPES: readonly BenchDtype[] = ['fp32', 'bf16'];
const SEED = 13;

// ---- data ------------------------------------------------------------------------------------------------------

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

interface Rows {
  sources: number[][];
  targets: number[][];
}

/** Seeded rows: sources of SOURCE_MIN..SOURCE_MAX tokens, TARGET-token targets, ids past the special ones, </s> last. */
function randomRows(count: number, vocab: number, seed: number): Rows {
  const next = lcg(seed);
  const id = () => 3 + (next() % (vocab - 103));
  const sources = Array.from({ length: count }, () => {
    const len = SOURCE_MIN + (next() % (SOURCE_MAX - SOURCE_MIN + 1));
    return [...Array.from({ length: len - 1 }, id), 1];
  });
  const targets = Array.from({ length: count }, () => [...Array.from({ length: TARGET - 1 }, id), 1]);
  return { sources, targets };
}

/** The padded batch both sides get: right-padded with 0, mask 0 there; labels all TARGET long. */
function padded(rows: Rows): { width: number; ids: Int32Array; mask: Int32Array; labels: Int32Array; paddedFraction: number } {
  const width = Math.max(...rows.sources.map((r) => r.length));
  const ids = new Int32Array(rows.sources.length * width);
  const mask = new Int32Array(rows.sources.length * width);
  rows.sources.forEach((r, b) => r.forEach((v, i) => ((ids[b * width + i] = v), (mask[b * width + i] = 1))));
  const real = rows.sources.reduce((s, r) => s + r.length, 0);
  return { width, ids, mask, labels: Int32Array.from(rows.targets.flat()), paddedFraction: 1 - real / ids.length };
}

function hfBatch(rows: Rows): Record<string, unknown> {
  const p = padded(rows);
  return {
    batch: rows.sources.length,
    source_length: p.width,
    input_ids: i32(p.ids),
    attention_mask: i32(p.mask),
    labels: i32(p.labels),
    target_length: TARGET,
  };
}

function trainData(rows: Rows): TrainData {
  const offsets = (rs: number[][]) => {
    const o = new Int32Array(rs.length + 1);
    rs.forEach((r, i) => (o[i + 1] = o[i]! + r.length));
    return o;
  };
  return {
    inputIds: Int32Array.from(rows.sources.flat()),
    inputOffsets: offsets(rows.sources),
    wholeWordIds: new Int32Array(rows.sources.reduce((s, r) => s + r.length, 0)),
    targetIds: Int32Array.from(rows.targets.flat()),
    targetOffsets: offsets(rows.targets),
  };
}

function slice(rows: Rows, from: number, to: number): Rows {
  return { sources: rows.sources.slice(from, to), targets: rows.targets.slice(from, to) };
}

// ---- the reference folder ------------------------------------------------------------------------------------

const SHAPE_KEYS = ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_heads', 'num_layers', 'num_decoder_layers'] as const;

/** The HF T5Config keys that fix the model's shape, as a P5 preset has them. */
function hfShape(c: P5Config): Record<string, number> {
  const hf = toHfConfig(c);
  return Object.fromEntries(SHAPE_KEYS.map((k) => [k, hf[k] as number]));
}

/** Refuses a reference folder whose config.json is not of the expected shape, naming the file and the key. */
export function checkReference(dir: string, expected: Record<string, number>, what: string): void {
  const file = path.join(dir, 'config.json');
  const fix = `remove ${dir} to have it written again, or set PAPREC_HF_REFERENCE to another folder`;
  if (!existsSync(file)) throw new Error(`${file} is missing: ${dir} is not an HF model folder (${fix})`);
  if (!existsSync(path.join(dir, 'model.safetensors'))) throw new Error(`${dir}/model.safetensors is missing (${fix})`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); ${fix}`);
  }
  const wrong: string[] = [];
  for (const [k, v] of Object.entries(expected)) if (cfg[k] !== v) wrong.push(`${k} is ${JSON.stringify(cfg[k])}, expected ${v}`);
  if (cfg.feed_forward_proj !== 'relu') wrong.push(`feed_forward_proj is ${JSON.stringify(cfg.feed_forward_proj)}, expected "relu"`);
  if (cfg.tie_word_embeddings === false) wrong.push('tie_word_embeddings is false, expected true');
  if (wrong.length > 0) throw new Error(`${file} does not hold the ${what} shape this bench times: ${wrong.join('; ')} (${fix})`);
}

/** The folder, written by Hugging Face (save_pretrained) when absent: into a temporary name first, then renamed. */
async function referenceFolder(hf: HfWorker, dir: string, shape: Record<string, number>): Promise<'written' | 'reused'> {
  if (existsSync(dir)) {
    checkReference(dir, shape, 'p5-small');
    return 'reused';
  }
  const partial = `${dir}.partial-${process.pid}`;
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    await hf.call('write_reference', { dir: partial, shape, seed: SEED });
    renameSync(partial, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  checkReference(dir, shape, 'p5-small');
  return 'written';
}

// ---- statistics and agreement ---------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A returned sequence without its start token, cut after its first </s> (or its trailing pads when it has none). */
function hypothesis(seqs: Int32Array, row: number, width: number): string {
  const out: number[] = [];
  for (let i = 1; i < width; i++) {
    const t = seqs[row * width + i]!;
    out.push(t);
    if (t === 1) break;
  }
  while (out.length > 0 && out[out.length - 1] === 0) out.pop();
  return out.join(',');
}

interface Beams {
  sequences: Int32Array;
  width: number;
  scores: Float32Array;
}

/**
 * Rows (of `rows` inputs) whose `perRow` returned beams are all equal, the largest |score a - score b|, and the median
 * ratio score a / score b (a constant ratio is a different length normalisation, not a different model).
 * `hf5MaxLength`: a's scores follow HF 4.x (paprec), b's HF 5.x, which divides a hypothesis that reached max_length
 * without </s> by max_length - 1 instead of max_length; `maxScoreDiffSameRule` then compares under b's rule.
 */
function compareBeams(
  a: Beams,
  b: Beams,
  rows: number,
  perRow: number,
  hf5MaxLength?: number,
): { equalRows: number; maxScoreDiff: number; maxScoreDiffSameRule: number; scoreRatio: number } {
  let equalRows = 0;
  let maxScoreDiff = 0;
  let maxScoreDiffSameRule = 0;
  const ratios: number[] = [];
  for (let r = 0; r < rows; r++) {
    let same = true;
    for (let j = 0; j < perRow; j++) {
      const k = r * perRow + j;
      const h = hypothesis(a.sequences, k, a.width);
      if (h !== hypothesis(b.sequences, k, b.width)) same = false;
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(a.scores[k]! - b.scores[k]!));
      const unfinished = hf5MaxLength !== undefined && !h.split(',').includes('1');
      const rescaled = unfinished ? (a.scores[k]! * hf5MaxLength) / (hf5MaxLength - 1) : a.scores[k]!;
      maxScoreDiffSameRule = Math.max(maxScoreDiffSameRule, Math.abs(rescaled - b.scores[k]!));
      if (b.scores[k]! !== 0) ratios.push(a.scores[k]! / b.scores[k]!);
    }
    if (same) equalRows++;
  }
  return { equalRows, maxScoreDiff, maxScoreDiffSameRule, scoreRatio: ratios.length > 0 ? median(ratios) : NaN };
}

/** max |a - b| / max |b|. */
function relMaxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m > 0 ? d / m : d;
}

// ---- the measures ---------------------------------------------------------------------------------------------

/** One timed run of one side: ms per example of each repetition, plus what the agreement checks read. */
interface Run {
  ms: number[];
  beams?: Beams;
  gradients?: Float32Array;
  loss?: number;
}

interface Measure {
  key: string;
  label: string;
  /** beam searches: returned sequences per row and max_length */
  beams?: { perRow: number; maxLength: number };
  /** per dtype: paprec and Hugging Face, each returning per-example ms of `reps` runs */
  paprec(dtype: BenchDtype, reps: number): Promise<Run>;
  /** `outputs`: also bring back what the agreement checks read (gradients are large: the warm-up run only) */
  hf(dtype: BenchDtype, reps: number, outputs: boolean): Promise<Run>;
  /** targets from issue 13: fp32 and bf16 speedups to reach (none for the extra rows) */
  targets?: { fp32: number; bf16: number };
  /** makes its own model each run (training): a refused load of the reference folder does not apply */
  ownModel?: boolean;
}

function beamsOfHf(r: Record<string, unknown>): Beams {
  const shape = r.shape as [number, number];
  return { sequences: decode(r.sequences as string) as Int32Array, width: shape[1], scores: decode(r.scores as string) as Float32Array };
}

export async function benchVsHf(): Promise<Record<string, number | string>> {
  if (!Number.isInteger(PAIRS) || PAIRS < 1) throw new Error(`PAPREC_BENCH_PAIRS must be a positive integer, got ${process.env.PAPREC_BENCH_PAIRS}`);
  if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`PAPREC_BENCH_REPS must be a positive integer, got ${process.env.PAPREC_BENCH_REPS}`);
  if (!Number.isInteger(THREADS) || THREADS < 1) throw new Error(`PAPREC_BENCH_THREADS must be a positive integer, got ${process.env.PAPREC_BENCH_THREADS}`);
  const python = hfPython();
  const small = PRESETS['p5-small']!;
  const tiny = PRESETS['p5-tiny']!;
  const refDir = path.resolve(process.env.PAPREC_HF_REFERENCE ?? path.join(ROOT, 'bench', 'results', 'hf-p5-small'));
  const loadStart = os.loadavg()[0]!;
  native().setThreads(THREADS);
  const { worker: hf, hello } = await HfWorker.start(python, THREADS);
  const backbones = new Map<BenchDtype, Backbone>();
  try {
    const reference = await referenceFolder(hf, refDir, hfShape(small));

    // paprec's models: fp32 and bf16 from the same folder; a refusal is kept and printed in the table's cells.
    const refused = new Map<string, string>(); // `${side}.${dtype}` -> message
    for (const dtype of DTYPES) {
      try {
        backbones.set(dtype, await Backbone.load(refDir, { device: 'cpu', dtype }));
      } catch (err) {
        refused.set(`paprec.${dtype}`, (err as Error).message);
      }
      try {
        await hf.call('load', { name: dtype, dir: refDir, dtype });
      } catch (err) {
        refused.set(`hf.${dtype}`, (err as Error).message);
      }
    }
    const bb = (dtype: BenchDtype): Backbone => {
      const b = backbones.get(dtype);
      if (!b) throw new Error(refused.get(`paprec.${dtype}`) ?? `no paprec ${dtype} model`);
      return b;
    };

    const rows = randomRows(BATCH, small.vocabSize, SEED + 1);
    const batch = padded(rows);
    const trainRows = randomRows(BATCH * TRAIN_STEPS, small.vocabSize, SEED + 2);
    const trainPadded = Array.from({ length: TRAIN_STEPS }, (_, s) => padded(slice(trainRows, s * BATCH, (s + 1) * BATCH)).paddedFraction);

    const gradMeasure: Measure = {
      key: 'grad',
      label: 'forward + backward to the input embeddings (frozen)',
      targets: { fp32: 1.2, bf16: 2 },
      async paprec(dtype, reps) {
        const run: Run = { ms: [] };
        for (let i = 0; i < reps; i++) {
          const t = performance.now();
          const r = await bb(dtype).inputGradients({ inputIds: rows.sources, labels: rows.targets });
          run.ms.push((performance.now() - t) / BATCH);
          run.gradients = r.gradients;
          run.loss = r.loss;
        }
        return run;
      },
      async hf(dtype, reps, outputs) {
        const r = await hf.call('grad', { model: dtype, ...hfBatch(rows), reps, return_gradients: outputs });
        const run: Run = { ms: (r.ms as number[]).map((m) => m / BATCH), loss: r.loss as number };
        if (outputs) run.gradients = decode(r.gradients as string) as Float32Array;
        return run;
      },
    };

    const beamMeasure = (key: string, label: string, numBeams: number, numReturnSequences: number, maxLength: number, targets?: Measure['targets']): Measure => ({
      key,
      label,
      beams: { perRow: numReturnSequences, maxLength },
      ...(targets ? { targets } : {}),
      async paprec(dtype, reps) {
        const run: Run = { ms: [] };
        for (let i = 0; i < reps; i++) {
          const t = performance.now();
          const r = await bb(dtype).generate({ inputIds: rows.sources }, { numBeams, numReturnSequences, maxLength, earlyStopping: true, lengthPenalty: 1 });
          run.ms.push((performance.now() - t) / BATCH);
          run.beams = { sequences: r.sequences, width: r.shape[1], scores: r.scores! };
        }
        return run;
      },
      async hf(dtype, reps) {
        const { labels: _l, target_length: _t, ...b } = hfBatch(rows);
        const r = await hf.call('generate', {
          model: dtype, ...b, reps, num_beams: numBeams, num_return_sequences: numReturnSequences, max_length: maxLength,
          early_stopping: true, length_penalty: 1.0,
        });
        return { ms: (r.ms as number[]).map((m) => m / BATCH), beams: beamsOfHf(r) };
      },
    });

    const search = selectionDecoding('sequential', 'surrogate')!;

    const trainMeasure = (preset: 'p5-tiny' | 'p5-small', config: P5Config): Measure => ({
      key: `train-${preset.slice(3)}`,
      label: `training step, ${preset} (weight gradients + AdamW)`,
      ownModel: true,
      async paprec(dtype, reps) {
        const run: Run = { ms: [] };
        for (let i = 0; i < reps; i++) {
          // no whole-word embeddings: the same model as transformers' T5ForConditionalGeneration
          const backbone = await Backbone.create({ ...config, wholeWordEmbeddings: false }, { seed: SEED, device: 'cpu' });
          try {
            const trainer = new BackboneTrainer(backbone, { lr: 1e-3, seed: SEED, bf16: dtype === 'bf16' });
            await trainer.runEpoch(trainer.upload(trainData(slice(trainRows, 0, BATCH))), { epoch: 0, batchSize: BATCH }); // warm-up step
            const timed = trainer.upload(trainData(trainRows));
            const t = performance.now();
            const r = await trainer.runEpoch(timed, { epoch: 1, batchSize: BATCH });
            run.ms.push((performance.now() - t) / r.examples);
          } finally {
            backbone.dispose();
          }
        }
        return run;
      },
      async hf(dtype, reps) {
        const run: Run = { ms: [] };
        const batches = [slice(trainRows, 0, BATCH), ...Array.from({ length: TRAIN_STEPS }, (_, s) => slice(trainRows, s * BATCH, (s + 1) * BATCH))];
        for (let i = 0; i < reps; i++) {
          const r = await hf.call('train', { shape: hfShape(config), seed: SEED, dtype, lr: 1e-3, batches: batches.map(hfBatch) });
          const steps = (r.ms as number[]).slice(1); // the first is the warm-up step
          run.ms.push(steps.reduce((a, b) => a + b, 0) / (steps.length * BATCH));
        }
        return run;
      },
    });

    const measures: Measure[] = [
      gradMeasure,
      beamMeasure('beam5', 'beam search 5 -> 5 (max_length 6)', 5, 5, 6, { fp32: 2.5, bf16: 2 }),
      beamMeasure('beam20', 'beam search 20 -> 10 (max_length 6)', 20, 10, 6, { fp32: 4, bf16: 2 }),
      beamMeasure(
        'search',
        `beam search at the search's settings (${search.numBeams} -> ${search.numReturnSequences}, max_length ${search.maxLength})`,
        search.numBeams, search.numReturnSequences, search.maxLength,
      ),
      trainMeasure('p5-tiny', tiny),
      trainMeasure('p5-small', small),
    ];

    // Warm-up (untimed; its outputs feed the agreement checks), then PAIRS alternating pairs.
    type Side = 'paprec' | 'hf';
    const first = new Map<string, Run>(); // `${measure}.${side}.${dtype}`
    const times = new Map<string, number[]>(); // `${measure}.${side}.${dtype}` -> per-pair ms per example
    const ratios = new Map<string, number[]>(); // `${measure}.${dtype}` -> per-pair HF / paprec
    const refusal = (m: Measure, side: Side, dtype: BenchDtype): string | undefined =>
      refused.get(`${m.key}.${side}.${dtype}`) ?? (m.ownModel ? undefined : refused.get(`${side}.${dtype}`));
    const run = async (m: Measure, side: Side, dtype: BenchDtype, reps: number, outputs = false): Promise<Run | undefined> => {
      if (refusal(m, side, dtype) !== undefined) return undefined;
      try {
        return await (side === 'paprec' ? m.paprec(dtype, reps) : m.hf(dtype, reps, outputs));
      } catch (err) {
        refused.set(`${m.key}.${side}.${dtype}`, (err as Error).message);
        return undefined;
      }
    };
    for (const m of measures) {
      if (!m.ownModel) console.log(`  vs-hf: warm-up and agreement runs: ${m.key}`);
      for (const dtype of DTYPES) {
        for (const side of ['hf', 'paprec'] as const) {
          if (m.ownModel) continue; // a training run makes its own model and takes its own warm-up step
          const r = await run(m, side, dtype, 1, true);
          if (r) first.set(`${m.key}.${side}.${dtype}`, r);
        }
      }
    }
    const pairLoads: number[] = []; // 1-minute load average at the end of each pair: a busy machine slows the two sides unequally
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const m of measures) {
        for (const dtype of DTYPES) {
          const order: Side[] = pair % 2 === 0 ? ['hf', 'paprec'] : ['paprec', 'hf'];
          const got: Partial<Record<Side, number>> = {};
          for (const side of order) {
            const r = await run(m, side, dtype, REPS);
            if (!r) continue;
            got[side] = median(r.ms);
            const k = `${m.key}.${side}.${dtype}`;
            times.set(k, [...(times.get(k) ?? []), got[side]!]);
            if (!first.has(k)) first.set(k, r);
          }
          if (got.hf !== undefined && got.paprec !== undefined) {
            const k = `${m.key}.${dtype}`;
            ratios.set(k, [...(ratios.get(k) ?? []), got.hf / got.paprec]);
          }
          const ms = (side: Side) => (got[side] === undefined ? 'refused' : `${got[side]!.toFixed(1)} ms`);
          console.log(`  vs-hf: pair ${pair + 1}/${PAIRS} ${m.key} ${dtype}: transformers ${ms('hf')}, paprec ${ms('paprec')} per example`);
        }
      }
      pairLoads.push(os.loadavg()[0]!);
      console.log(`  vs-hf: pair ${pair + 1}/${PAIRS} done (load average ${pairLoads.at(-1)!.toFixed(1)})`);
    }

    // Agreement.
    const out: Record<string, number | string> = {};
    const agreement = new Map<string, string>();
    const g = (k: string) => first.get(k);
    {
      const p = g('grad.paprec.fp32');
      const h = g('grad.hf.fp32');
      const parts: string[] = [];
      if (p?.gradients && h?.gradients) {
        const dl = Math.abs(p.loss! - h.loss!);
        const dg = relMaxDiff(p.gradients, h.gradients);
        out['grad.fp32.loss_abs_diff'] = dl;
        out['grad.fp32.gradient_rel_max_diff'] = dg;
        parts.push(`fp32 vs HF: |Δloss| ${dl.toExponential(1)}, gradient max|Δ|/max|g| ${dg.toExponential(1)}`);
      }
      for (const side of ['paprec', 'hf'] as const) {
        const a = g(`grad.${side}.bf16`);
        const b = g(`grad.${side}.fp32`);
        if (a?.gradients && b?.gradients) {
          const d = relMaxDiff(a.gradients, b.gradients);
          out[`grad.bf16.${side}_gradient_rel_max_diff_vs_fp32`] = d;
          parts.push(`bf16 vs fp32 (${side === 'hf' ? 'HF' : side}): gradient max|Δ|/max|g| ${d.toExponential(1)}`);
        }
      }
      agreement.set('grad', parts.join('; '));
    }
    for (const m of measures) {
      if (!m.beams) continue;
      const { perRow, maxLength } = m.beams;
      const parts: string[] = [];
      const p = g(`${m.key}.paprec.fp32`)?.beams;
      const h = g(`${m.key}.hf.fp32`)?.beams;
      if (p && h) {
        const c = compareBeams(p, h, BATCH, perRow, maxLength);
        out[`${m.key}.fp32.rows_identical_to_hf`] = c.equalRows / BATCH;
        out[`${m.key}.fp32.max_score_diff_vs_hf`] = c.maxScoreDiff;
        out[`${m.key}.fp32.max_score_diff_vs_hf_same_length_rule`] = c.maxScoreDiffSameRule;
        out[`${m.key}.fp32.score_ratio_vs_hf`] = c.scoreRatio;
        parts.push(
          `fp32 = HF: ${c.equalRows}/${BATCH} rows; scores: ratio ${c.scoreRatio.toFixed(4)} (HF 5.x divides an unfinished ` +
            `hypothesis by max_length - 1, paprec like 4.x by max_length), max|Δ| ${c.maxScoreDiffSameRule.toExponential(1)} under one rule`,
        );
      }
      for (const side of ['paprec', 'hf'] as const) {
        const a = g(`${m.key}.${side}.bf16`)?.beams;
        const b = g(`${m.key}.${side}.fp32`)?.beams;
        if (a && b) {
          const c = compareBeams(a, b, BATCH, perRow);
          out[`${m.key}.bf16.${side}_rows_equal_fp32`] = c.equalRows / BATCH;
          out[`${m.key}.bf16.${side}_max_score_diff_vs_fp32`] = c.maxScoreDiff;
          parts.push(`bf16 = fp32 (${side === 'hf' ? 'HF' : side}): ${c.equalRows}/${BATCH} rows, max|Δscore| ${c.maxScoreDiff.toFixed(3)}`);
        }
      }
      agreement.set(m.key, parts.join('; '));
    }

    // The table.
    const cell = (m: Measure, side: Side, dtype: BenchDtype): string => {
      const t = times.get(`${m.key}.${side}.${dtype}`);
      if (t) {
        out[`${m.key}.${dtype}.${side}_ms_per_example`] = median(t);
        return median(t).toFixed(1);
      }
      const why = refusal(m, side, dtype) ?? 'not run';
      out[`${m.key}.${dtype}.${side}_error`] = why;
      return `refused: ${why}`;
    };
    const speed = (m: Measure, dtype: BenchDtype): string => {
      const r = ratios.get(`${m.key}.${dtype}`);
      if (!r) return '-';
      const s = median(r);
      out[`${m.key}.${dtype}.speedup_median`] = s;
      out[`${m.key}.${dtype}.speedup_per_pair`] = r.map((x) => x.toFixed(2)).join(' ');
      const target = m.targets?.[dtype];
      if (target) out[`${m.key}.${dtype}.target_met`] = s >= target ? 'yes' : 'no';
      return `${s.toFixed(2)}x` + (target ? ` (target ${target}x: ${s >= target ? 'met' : 'missed'})` : '');
    };
    const lines = [
      `| measure (ms per example, median of ${PAIRS} pair${PAIRS > 1 ? 's' : ''}) | paprec fp32 | transformers fp32 | speedup fp32 | paprec bf16 | transformers bf16 | speedup bf16 | agreement |`,
      '|---|---|---|---|---|---|---|---|',
      ...measures.map((m) => `| ${m.label} | ${cell(m, 'paprec', 'fp32')} | ${cell(m, 'hf', 'fp32')} | ${speed(m, 'fp32')} | ${cell(m, 'paprec', 'bf16')} | ${cell(m, 'hf', 'bf16')} | ${speed(m, 'bf16')} | ${agreement.get(m.key) ?? ''} |`),
    ];
    const info = native().info();
    const loadEnd = os.loadavg()[0]!;
    const header = [
      `paprec (LibTorch ${info.torchVersion}, ${THREADS} threads) against transformers ${hello.transformers} (torch ${hello.torch}, ` +
        `${hello.threads} threads; bf16 = model.to(torch.bfloat16)); CPU: ${os.cpus()[0]?.model ?? '?'} x ${os.cpus().length}, ` +
        `AMX ${hello.amx ? 'yes' : 'no'}, AVX512-BF16 ${hello.avx512_bf16 ? 'yes' : 'no'}; load average ${loadStart.toFixed(1)} at the start, ` +
        `${pairLoads.map((l) => l.toFixed(1)).join(' / ')} after each pair`,
      `weights: ${path.relative(process.cwd(), refDir) || refDir} (p5-small shape, random, written by transformers: ${reference}); batch ${BATCH}, ` +
        `sources ${SOURCE_MIN}-${SOURCE_MAX} tokens, ${TARGET}-token targets; padded fraction: ${(batch.paddedFraction * 100).toFixed(1)}% of the ` +
        `gradient / beam batch, ${(median(trainPadded) * 100).toFixed(1)}% of the training batches (median, as transformers gets them); ` +
        `speedup = median over pairs of transformers ms / paprec ms; ${REPS} run${REPS > 1 ? 's' : ''} per side per pair${QUICK ? ' (PAPREC_BENCH_QUICK)' : ''}`,
    ];
    console.log(['', ...header, '', ...lines, ''].join('\n'));

    Object.assign(out, {
      table: lines.join('\n'),
      'setup.paprec_libtorch': info.torchVersion,
      'setup.threads': THREADS,
      'setup.hf_torch': String(hello.torch),
      'setup.hf_transformers': String(hello.transformers),
      'setup.cpu_amx': String(hello.amx),
      'setup.cpu_avx512_bf16': String(hello.avx512_bf16),
      'setup.pairs': PAIRS,
      'setup.reps_per_side_per_pair': REPS,
      'setup.batch': BATCH,
      'setup.source_tokens': `${SOURCE_MIN}-${SOURCE_MAX}`,
      'setup.target_tokens': TARGET,
      'setup.padded_fraction_batch': batch.paddedFraction,
      'setup.padded_fraction_training_batches': median(trainPadded),
      'setup.reference': refDir,
      'setup.load_average_start': loadStart,
      'setup.load_average_end': loadEnd,
      'setup.load_average_per_pair': pairLoads.map((l) => l.toFixed(2)).join(' '),
    });
    return out;
  } finally {
    for (const b of backbones.values()) b.dispose();
    hf.close();
  }
}
