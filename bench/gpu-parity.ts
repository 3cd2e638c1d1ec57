/**
 * GPU parity (run on a CUDA machine; see scripts/gpu-check.sh): every fixture's logits, loss, input gradients and
 * beam / greedy outputs on CUDA against the Hugging Face goldens, and resident-set outcomes on CUDA against CPU and
 * across stream counts. Prints one line per check and exits non-zero on any failure.
 */
import * as path from 'node:path';
import { Backbone } from '../src/backbone/index.js';
import { ResidentExampleSet } from '../src/engine/index.js';
import { loadDataset } from '../src/data/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { buildExampleSet, manualPrompt } from '../src/prompts/index.js';
import { native } from '../src/native.js';
import { FIXTURES, SHARED, loadFixture, maxAbs, maxAbsDiff } from '../test/helpers/golden.js';

let failures = 0;
function check(name: string, ok: boolean, detail: string): void {
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
}

const device = process.argv[2] ?? 'cuda';
console.log(`gpu-parity on ${device}: ${JSON.stringify(native().info())}`);
for (const name of FIXTURES) {
  const fx = loadFixture(name);
  const b = await Backbone.load(path.join(fx.dir, 'model.safetensors'), { device });
  const batch = {
    inputIds: fx.rows('input_ids'),
    attentionMask: fx.rows('attention_mask'),
    wholeWordIds: fx.tensors.has('whole_word_ids') ? fx.rows('whole_word_ids') : undefined,
    labels: fx.rows('labels'),
  };
  const out = await b.forward(batch, { logits: true });
  const dl = maxAbsDiff(out.logits!, fx.f('logits').data);
  check(`${name} logits`, dl <= 1e-4, `max abs diff ${dl.toExponential(2)}`);
  const p5 = fx.f('p5_loss').data[0]!;
  const rel = Math.abs(out.loss - p5) / Math.abs(p5);
  check(`${name} loss`, rel <= 1e-5, `relative diff ${rel.toExponential(2)}`);
  const g = await b.inputGradients(batch);
  const golden = fx.f('grad_token_embeds_of_p5_loss').data;
  const dg = maxAbsDiff(g.gradients, golden);
  check(`${name} input gradients`, dg <= 1e-6 + 1e-4 * maxAbs(golden), `max abs diff ${dg.toExponential(2)}`);
  for (const [caseName, c] of Object.entries<any>(fx.json.generate)) {
    const k = c.kwargs;
    const ww = c.whole_word_embeddings_applied && fx.tensors.has('gen.whole_word_ids');
    const r = await b.generate(
      { inputIds: fx.rows('gen.input_ids'), attentionMask: fx.rows('gen.attention_mask'), wholeWordIds: ww ? fx.rows('gen.whole_word_ids') : undefined },
      { numBeams: k.num_beams, numReturnSequences: k.num_return_sequences ?? 1, maxLength: k.max_length, minLength: k.min_length, earlyStopping: k.early_stopping },
    );
    const seq = Array.from(fx.tensors.get(`gen.${caseName}.sequences`)!.data as BigInt64Array, Number);
    const same = seq.length === r.sequences.length && seq.every((v, i) => v === r.sequences[i]);
    const ds = k.num_beams > 1 ? maxAbsDiff(r.scores!, fx.f(`gen.${caseName}.sequences_scores`).data) : 0;
    check(`${name} ${caseName}`, same && ds <= 1e-4, `sequences ${same ? 'exact' : 'DIFFER'}, score diff ${ds.toExponential(2)}`);
  }
  b.dispose();
}

// Resident-set outcomes: CUDA vs CPU, 1 vs 4 streams, on 300 Beauty users with a seeded random p5-tiny.
const tokenizer = await loadTokenizer(path.join(SHARED, 'data/t5/spiece.model'));
const ds = await loadDataset(path.join(SHARED, 'data/beauty'), { maxUsers: 300 });
const set = buildExampleSet(ds, tokenizer, { task: 'sequential', split: 'val', prompt: manualPrompt('2-3') });
const config = { vocabSize: tokenizer.vocabSize, dModel: 64, dKv: 16, dFf: 128, numHeads: 4, numLayers: 2, numDecoderLayers: 2 };
const cpu = await Backbone.create(config, { seed: 3, device: 'cpu' });
const gpu = await Backbone.create(config, { seed: 3, device });
const opts = { numBeams: 5, numReturnSequences: 5, maxLength: 8 };
const assignment = [{ taskTokens: new Int32Array(0) }];
const cpuIds = (await ResidentExampleSet.upload(cpu, set).evaluate(assignment, { ...opts, outcome: 'ids' }))[0]!;
for (const streams of [1, 2, 3]) {
  const rs = ResidentExampleSet.upload(gpu, set, { streams });
  const ids = (await rs.evaluate(assignment, { ...opts, outcome: 'ids' }))[0]!;
  let diff = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== cpuIds[i]) diff++;
  check(`resident set ${streams} stream(s) vs CPU`, diff === 0, `${set.size} rows, ${diff} differing ids`);
  rs.dispose();
}
console.log(failures === 0 ? 'gpu-parity: all checks passed' : `gpu-parity: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
