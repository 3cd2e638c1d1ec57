// Bad input to the engine: each a clear Error naming what and where; the Node process never aborts.
import { describe, expect, it } from 'vitest';
import { Backbone } from '../../src/backbone/index.js';
import { native } from '../../src/native.js';

const tiny = { vocabSize: 50, dModel: 16, dKv: 4, dFf: 32, numHeads: 4, numLayers: 1, numDecoderLayers: 1 };

describe('engine bad input', () => {
  it('refuses cuda where there is none, naming the device', async () => {
    if (native().info().cudaAvailable) return; // the GPU suite covers this machine
    await expect(Backbone.create(tiny, { device: 'cuda' })).rejects.toThrow(/device 'cuda' requested but no CUDA GPU/);
    await expect(Backbone.create(tiny, { device: 'cuda:1' })).rejects.toThrow(/cuda:1/);
    await expect(Backbone.create(tiny, { device: 'tpu' })).rejects.toThrow(/expected cpu, cuda, cuda:N or auto/);
    await expect(Backbone.create(tiny, { dtype: 'tf32' })).rejects.toThrow(/tf32.*CUDA/);
  });

  it('runs bf16 on the CPU only where it is native, and refuses fp16 (T5 overflows in it)', async () => {
    const info = native().info();
    if (info.cpuAutoDtype === 'bf16') {
      const b = await Backbone.create(tiny, { dtype: 'bf16' });
      expect(b.dtype).toBe('bf16');
      b.dispose();
    } else {
      // LibTorch 1.x, no oneDNN, or a CPU without AMX / AVX512-BF16: the reason is named
      await expect(Backbone.create(tiny, { dtype: 'bf16' })).rejects.toThrow(/dtype 'bf16' on cpu: .*(LibTorch|oneDNN|bf16 matrix unit)/);
    }
    const auto = await Backbone.create(tiny, { dtype: 'auto' });
    expect(auto.dtype).toBe(info.cpuAutoDtype);
    auto.dispose();
    await expect(Backbone.create(tiny, { dtype: 'fp16' as 'fp32' })).rejects.toThrow(/overflows in fp16/);
  });

  it('reports an input id outside the vocabulary with its row and column', async () => {
    const b = await Backbone.create(tiny, { seed: 1 });
    await expect(b.forward({ inputIds: [[5, 6, 1], [7, 50, 1]], labels: [[3, 1], [4, 1]] }))
      .rejects.toThrow('inputIds[1][1] = 50 is outside [0, 50)');
    await expect(b.forward({ inputIds: [[5, -3, 1]], labels: [[3, 1]] })).rejects.toThrow('inputIds[0][1] = -3');
    await expect(b.forward({ inputIds: [[5, 1]], labels: [[99, 1]] })).rejects.toThrow('labels[0][0] = 99');
    await expect(b.forward({ inputIds: [[5, 1]], wholeWordIds: [[600, 0]], labels: [[3, 1]] }))
      .rejects.toThrow('wholeWordIds[0][0] = 600 is outside [0, 512)');
    await expect(b.forward({ inputIds: [[5, 1.5]], labels: [[3, 1]] })).rejects.toThrow('inputIds[0][1] = 1.5 is not an integer');
    await expect(b.forward({ inputIds: [[5, 1]], labels: [[3, 1], [2, 1]] })).rejects.toThrow('labels has 2 rows, inputIds has 1');
    // the model still works after every refusal
    const ok = await b.forward({ inputIds: [[5, 6, 1]], labels: [[3, 1]] });
    expect(Number.isFinite(ok.loss)).toBe(true);
    b.dispose();
  });

  it('refuses a malformed config and use after dispose', async () => {
    await expect(Backbone.create({ ...tiny, dModel: 0 })).rejects.toThrow(/dModel/);
    const b = await Backbone.create(tiny);
    b.dispose();
    await expect(b.forward({ inputIds: [[5, 1]], labels: [[3, 1]] })).rejects.toThrow(/after dispose/);
  });

  it('seeded creation is reproducible and the loss is the mean of the per-example losses', async () => {
    const [a, b] = await Promise.all([Backbone.create(tiny, { seed: 7 }), Backbone.create(tiny, { seed: 7 })]);
    const batch = { inputIds: [[5, 6, 7, 1], [8, 1]], labels: [[3, 4, 1], [9, 1]] };
    const [ra, rb] = await Promise.all([a.forward(batch), b.forward(batch)]);
    expect(Array.from(ra.logits!)).toEqual(Array.from(rb.logits!));
    expect(ra.loss).toBeCloseTo((ra.lossPerExample[0]! + ra.lossPerExample[1]!) / 2, 6);
    const c = await Backbone.create(tiny, { seed: 8 });
    expect((await c.forward(batch)).loss).not.toBe(ra.loss);
    [a, b, c].forEach((m) => m.dispose());
  });
});
