// Beam search and greedy decoding against real Hugging Face transformers 4.2.1 generate() on every fixture case (T5,
// P5, T5 v1.1), from both weight files.
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { FIXTURES, T5V11_FIXTURES, loadFixture, maxAbsDiff } from '../helpers/golden.js';

function ints(data: BigInt64Array | Float32Array): number[] {
  return Array.from(data as BigInt64Array, Number);
}

describe.each([...FIXTURES, ...T5V11_FIXTURES])('fixture %s', (name) => {
  const fx = loadFixture(name);
  const weightFiles = [path.join(fx.dir, 'model.safetensors'), fx.pthFile];
  const models = new Map<string, Promise<Backbone>>();
  const load = (file: string) => {
    if (!models.has(file)) models.set(file, Backbone.load(file, { config: path.join(fx.dir, 'config.json') }));
    return models.get(file)!;
  };
  afterAll(async () => {
    for (const m of models.values()) (await m).dispose();
  });
  const runs = weightFiles.flatMap((file) => Object.keys(fx.json.generate).map((c) => [c, file] as const));

  it.each(runs)('%s from %s: sequences exact, scores / logits to 1e-4', async (caseName, file) => {
    const model = () => load(file);
    const c = fx.json.generate[caseName];
    const k = c.kwargs;
    const withWholeWords = c.whole_word_embeddings_applied && fx.tensors.has('gen.whole_word_ids');
    const out = await (await model()).generate(
      {
        inputIds: fx.rows('gen.input_ids'),
        attentionMask: fx.rows('gen.attention_mask'),
        wholeWordIds: withWholeWords ? fx.rows('gen.whole_word_ids') : undefined,
      },
      {
        numBeams: k.num_beams,
        numReturnSequences: k.num_return_sequences ?? 1,
        maxLength: k.max_length,
        minLength: k.min_length,
        earlyStopping: k.early_stopping,
      },
    );
    const golden = fx.tensors.get(`gen.${caseName}.sequences`)!;
    expect(out.shape).toEqual(golden.shape);
    expect(Array.from(out.sequences)).toEqual(ints(golden.data));
    if (k.num_beams > 1) {
      expect(maxAbsDiff(out.scores!, fx.f(`gen.${caseName}.sequences_scores`).data)).toBeLessThanOrEqual(1e-4);
    } else {
      expect(out.scores).toBeNull();
      expect(maxAbsDiff(out.chosenLogits!, fx.f(`gen.${caseName}.chosen_token_logits`).data)).toBeLessThanOrEqual(1e-4);
      // min_length bites: without it the sequences differ exactly as the fixture says
      const free = await (await model()).generate(
        {
          inputIds: fx.rows('gen.input_ids'),
          attentionMask: fx.rows('gen.attention_mask'),
          wholeWordIds: withWholeWords ? fx.rows('gen.whole_word_ids') : undefined,
        },
        { numBeams: 1, numReturnSequences: 1, maxLength: k.max_length },
      );
      const without = fx.tensors.get(`gen.${caseName}.sequences_without_min_length`)!;
      expect(free.shape).toEqual(without.shape);
      expect(Array.from(free.sequences)).toEqual(ints(without.data));
    }
  });
});

describe('generate: bad options', () => {
  it('rejects numReturnSequences > numBeams and maxLength < 2 with clear errors', async () => {
    const fx = loadFixture('t5-tiny');
    const b = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    const batch = { inputIds: fx.rows('gen.input_ids'), attentionMask: fx.rows('gen.attention_mask') };
    await expect(b.generate(batch, { numBeams: 2, numReturnSequences: 3, maxLength: 5 })).rejects.toThrow(/numReturnSequences/);
    await expect(b.generate(batch, { numBeams: 2, numReturnSequences: 1, maxLength: 1 })).rejects.toThrow(/maxLength/);
    await expect(b.generate({ inputIds: [[5, 999999]] }, { numBeams: 2, numReturnSequences: 1, maxLength: 4 })).rejects.toThrow(
      /outside/,
    );
    b.dispose();
  });
});

describe('generate: the naive comparison path (bench) returns the same beams', () => {
  it('p5-eos beam20 and greedy: identical sequences and scores without the KV cache', async () => {
    const { native } = await import('../../src/native.js');
    const { toNativeBatch } = await import('../../src/backbone/batch.js');
    const fx = loadFixture('p5-eos');
    const b = await Backbone.load(path.join(fx.dir, 'model.safetensors'));
    const nb = toNativeBatch({
      inputIds: fx.rows('gen.input_ids'),
      attentionMask: fx.rows('gen.attention_mask'),
      wholeWordIds: fx.rows('gen.whole_word_ids'),
    });
    for (const opts of [
      { numBeams: 20, numReturnSequences: 10, maxLength: 8, earlyStopping: true },
      { numBeams: 1, numReturnSequences: 1, maxLength: 10, minLength: 4 },
    ]) {
      const fast = await native().generate(b.native, nb, opts);
      const slow = await native().generateNaive(b.native, nb, opts);
      expect([slow.rows, slow.length]).toEqual([fast.rows, fast.length]);
      expect(Array.from(slow.sequences)).toEqual(Array.from(fast.sequences));
      if (fast.scores) expect(maxAbsDiff(slow.scores!, fast.scores)).toBeLessThanOrEqual(1e-4);
    }
    b.dispose();
  });
});

describe('vocabLimit: model rows beyond the tokenizer are never generated', () => {
  it('bans ids >= vocabLimit in beam search and greedy decoding, and nothing else changes below it', async () => {
    const b = await Backbone.create({ vocabSize: 300, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2 }, { seed: 5 });
    try {
      const inputIds = Array.from({ length: 8 }, (_, r) => [5 + r, 17, 42 + r, 99, 1]);
      for (const opts of [{ numBeams: 5, numReturnSequences: 5, maxLength: 8 }, { numBeams: 1, numReturnSequences: 1, maxLength: 8 }]) {
        const free = await b.generate({ inputIds }, opts);
        const limited = await b.generate({ inputIds }, { ...opts, vocabLimit: 150 });
        expect(Array.from(free.sequences).some((id) => id >= 150)).toBe(true); // the ban has something to ban
        expect(Array.from(limited.sequences).every((id) => id < 150)).toBe(true);
      }
      await expect(b.generate({ inputIds }, { numBeams: 2, numReturnSequences: 1, maxLength: 4, vocabLimit: -1 })).rejects.toThrow(/vocabLimit/);
    } finally {
      b.dispose();
    }
  });
});
