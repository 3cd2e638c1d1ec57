// `pretrain` end to end on a tiny model and a tiny synthetic folder: the HF folder it writes, exact resume (after an
// epoch and inside one), and each kind of bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Backbone } from '../../src/backbone/index.js';
import { readSafetensors } from '../../src/checkpoint/index.js';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { pretrain, type PretrainEvent, type PretrainOptions } from '../../src/train/index.js';

let dir: string;
let base: Omit<PretrainOptions, 'out'>;
let vocabSize: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'paprec-pretrain-'));
  const demo = await writeDemoData(path.join(dir, 'demo'), { seed: 21, users: 24, items: 120 });
  vocabSize = (await loadTokenizer(demo.tokenizerPath)).vocabSize;
  base = {
    data: demo.dataDir,
    tokenizer: demo.tokenizerPath,
    config: { vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2 },
    epochs: 2,
    batchSize: 8,
    lr: 5e-3,
    tasks: ['sequential', 'matching'],
    seed: 3,
    validationUsers: 24,
    validationBeams: 0,
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const out = (name: string) => path.join(dir, name);
async function stateWeights(o: string): Promise<Map<string, Float32Array>> {
  const state = JSON.parse(readFileSync(path.join(o, 'train_state', 'state.json'), 'utf8')) as { weightsFile: string };
  const t = await readSafetensors(path.join(o, 'train_state', state.weightsFile));
  return new Map([...t].map(([k, v]) => [k, v.data]));
}
function expectIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of a) expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength)), k).toBe(true);
}

describe('pretrain', () => {
  let straight: Map<string, Float32Array>;

  it('writes an HF folder that Backbone.load reads, a log line per epoch, and validates with beam search', async () => {
    const events: PretrainEvent[] = [];
    const r = await pretrain({ ...base, out: out('straight'), validationBeams: 5 }, (e) => events.push(e));
    expect(r.completed).toBe(true);
    expect(r.history).toHaveLength(2);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'train_log.jsonl']) expect(existsSync(path.join(out('straight'), f)), f).toBe(true);
    const b = await Backbone.load(out('straight'));
    expect(b.config.vocabSize).toBe(vocabSize);
    b.dispose();
    const log = readFileSync(path.join(out('straight'), 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((l) => l.event === 'epoch')).toHaveLength(2);
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs).toHaveLength(2);
    for (const e of epochs) if (e.type === 'epoch') expect(e.validation.hr5).toBeGreaterThanOrEqual(0);
    expect(events.some((e) => e.type === 'step')).toBe(true);
    straight = await stateWeights(out('straight'));
  });

  it('resumed after an interrupted epoch, ends with the same weights as the straight run', async () => {
    const ctl = new AbortController();
    const r1 = await pretrain({ ...base, out: out('resumed'), validationBeams: 5, signal: ctl.signal }, (e) => {
      if (e.type === 'epoch') ctl.abort(); // Ctrl-C during validation: stops before the 2nd epoch's first step
    });
    expect(r1.completed).toBe(false);
    const r2 = await pretrain({ ...base, out: out('resumed'), validationBeams: 5, resume: true });
    expect(r2.completed).toBe(true);
    expectIdentical(straight, await stateWeights(out('resumed')));
    const best = await readSafetensors(path.join(out('resumed'), 'model.safetensors'));
    const bestStraight = await readSafetensors(path.join(out('straight'), 'model.safetensors'));
    expectIdentical(new Map([...best].map(([k, v]) => [k, v.data])), new Map([...bestStraight].map(([k, v]) => [k, v.data])));
  });

  it('resumed after a Ctrl-C inside an epoch, ends with the same weights too', async () => {
    const ctl = new AbortController();
    const r1 = await pretrain({ ...base, out: out('mid'), signal: ctl.signal }, (e) => {
      if (e.type === 'step' && e.epoch === 1 && e.progress.batch === 2) ctl.abort();
    });
    expect(r1.completed).toBe(false);
    const state = JSON.parse(readFileSync(path.join(out('mid'), 'train_state', 'state.json'), 'utf8'));
    expect(state.epoch).toBe(1);
    expect(state.batch).toBeGreaterThanOrEqual(3);
    await pretrain({ ...base, out: out('mid'), resume: true });
    expectIdentical(straight, await stateWeights(out('mid')));
  });

  it('refuses a config with fewer vocabulary rows than the tokenizer has pieces', async () => {
    const cfg = path.join(dir, 'bad-config.json');
    writeFileSync(cfg, JSON.stringify({ vocab_size: vocabSize - 1, d_model: 32, d_kv: 8, d_ff: 64, num_heads: 4, num_layers: 2 }));
    await expect(pretrain({ ...base, config: cfg, out: out('vocab') })).rejects.toThrow(new RegExp(`vocab_size ${vocabSize - 1} is smaller than the tokenizer .*\\(${vocabSize} tokens\\)`));
  });

  it('refuses an existing output folder unless --overwrite', async () => {
    mkdirSync(out('taken'));
    writeFileSync(path.join(out('taken'), 'notes.txt'), 'mine');
    await expect(pretrain({ ...base, epochs: 1, out: out('taken') })).rejects.toThrow(/exists and is not empty; pass --overwrite/);
    const r = await pretrain({ ...base, epochs: 1, tasks: ['sequential'], out: out('taken'), overwrite: true });
    expect(r.completed).toBe(true);
    expect(readFileSync(path.join(out('taken'), 'notes.txt'), 'utf8')).toBe('mine'); // only paprec's own files are replaced
  });

  it('refuses to resume a state saved by another config, or with nothing saved', async () => {
    const other = { ...base, config: { vocabSize, dModel: 32, dKv: 8, dFf: 48, numHeads: 4, numLayers: 2 } };
    await expect(pretrain({ ...other, out: out('straight'), resume: true })).rejects.toThrow(/state belongs to another run \(model config dFf: saved 64, now 48\)/);
    await expect(pretrain({ ...base, out: out('nothing'), resume: true })).rejects.toThrow(/nothing to resume/);
  });

  it('takes a dropout override: saved in config.json, part of the run identity, checked', async () => {
    const r = await pretrain({ ...base, epochs: 1, tasks: ['sequential'], dropout: 0, out: out('dropout0') });
    expect(r.completed).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out('dropout0'), 'config.json'), 'utf8')).dropout_rate).toBe(0);
    await expect(pretrain({ ...base, epochs: 1, tasks: ['sequential'], dropout: 0.2, out: out('dropout0'), resume: true })).rejects.toThrow(
      /state belongs to another run \(model config dropoutRate: saved 0, now 0.2\)/,
    );
    await expect(pretrain({ ...base, dropout: 1, out: out('dropout1') })).rejects.toThrow(/dropout must be in \[0, 1\), got 1/);
  });

  it('trains without whole-word embeddings on request: a plain T5 that every command loads', async () => {
    const o = out('noww');
    const r = await pretrain({ ...base, epochs: 1, tasks: ['sequential'], wholeWordEmbeddings: false, out: o });
    expect(r.completed).toBe(true);
    expect(JSON.parse(readFileSync(path.join(o, 'config.json'), 'utf8')).whole_word_embeddings).toBe(false);
    const b = await Backbone.load(o, { device: 'cpu' });
    try {
      expect(b.native.names()).not.toContain('encoder.whole_word_embeddings.weight');
    } finally {
      b.dispose();
    }
    await expect(pretrain({ ...base, epochs: 1, tasks: ['sequential'], out: o, resume: true })).rejects.toThrow(
      /state belongs to another run \(model config wholeWordEmbeddings: saved false, now true\)/,
    );
  });

  it('trains with AdamW-scale on request: part of the run identity; an unknown optimizer is refused by name', async () => {
    const o = out('adamw-scale');
    const r = await pretrain({ ...base, epochs: 1, tasks: ['sequential'], optimizer: 'adamw-scale', lr: 2e-2, out: o });
    expect(r.completed).toBe(true);
    const state = JSON.parse(readFileSync(path.join(o, 'train_state', 'state.json'), 'utf8'));
    expect(state.identity.optimizer).toBe('adamw-scale');
    await expect(pretrain({ ...base, epochs: 1, tasks: ['sequential'], lr: 2e-2, out: o, resume: true })).rejects.toThrow(
      /state belongs to another run \(optimizer: saved "adamw-scale", now "adamw"\)/,
    );
    const bad = { ...base, optimizer: 'sgd' } as unknown as PretrainOptions;
    await expect(pretrain({ ...bad, out: out('sgd') })).rejects.toThrow(/unknown optimizer "sgd"; known: adamw, adamw-scale/);
    await expect(pretrain({ ...base, trainHistory: 0, out: out('history0') })).rejects.toThrow(/train history must be a positive integer, got 0/);
    const badKeep = { ...base, keepBestBy: 'hr10' } as unknown as PretrainOptions;
    await expect(pretrain({ ...badKeep, out: out('keep') })).rejects.toThrow(/unknown --keep-best-by "hr10"; known: surrogate, loss/);
  });

  it('--init starts from another run\'s weights (a curriculum stage), part of the identity; a different --config is refused', async () => {
    const stage1 = out('stage1');
    await pretrain({ ...base, epochs: 1, tasks: ['successor'], out: stage1 });
    const { config: _config, ...noConfig } = base;
    // A learning rate too small to move a weight in fp32: the run's weights are the init's, not a fresh initialisation.
    const o = out('stage2');
    const r = await pretrain({ ...noConfig, init: stage1, epochs: 1, tasks: ['sequential'], lr: 1e-30, warmupRatio: 0, weightDecay: 0, out: o });
    expect(r.completed).toBe(true);
    const init = await readSafetensors(path.join(stage1, 'model.safetensors'));
    const after = await readSafetensors(path.join(o, 'model.safetensors'));
    await pretrain({ ...base, epochs: 1, tasks: ['sequential'], lr: 1e-30, warmupRatio: 0, weightDecay: 0, out: out('stage2-fresh') });
    const fresh = await readSafetensors(path.join(out('stage2-fresh'), 'model.safetensors'));
    const bytes = (t: Map<string, { data: Float32Array }>) => {
      const d = t.get('shared.weight')!.data;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    };
    expect(bytes(after).equals(bytes(init))).toBe(true);
    expect(bytes(after).equals(bytes(fresh))).toBe(false);
    const state = JSON.parse(readFileSync(path.join(o, 'train_state', 'state.json'), 'utf8'));
    expect(state.identity.init).toBe(path.resolve(stage1));
    await expect(pretrain({ ...noConfig, init: out('stage2-fresh'), epochs: 1, tasks: ['sequential'], lr: 1e-30, warmupRatio: 0, weightDecay: 0, out: o, resume: true })).rejects.toThrow(
      /state belongs to another run \(init: saved ".*stage1", now ".*stage2-fresh"\)/,
    );
    await expect(pretrain({ ...base, config: { ...(base.config as object), dFf: 128 }, init: stage1, out: out('stage2b') })).rejects.toThrow(
      /--init's model differs from --config in dFf \(64 vs 128\)/,
    );
    await expect(pretrain({ ...noConfig, out: out('noconfig') })).rejects.toThrow(/give a model config \(a preset or config.json\) or --init/);
  });

  it('stops on a NaN loss with a clear message and keeps the last good checkpoint', async () => {
    const o = out('nan');
    await pretrain({ ...base, epochs: 1, tasks: ['sequential'], out: o });
    const good = readFileSync(path.join(o, 'model.safetensors'));
    // A second epoch whose 2nd step is poisoned: epochs 2 (another run identity) needs a fresh folder, so poison a
    // fresh run after one good epoch instead.
    const steps = Math.ceil(24 / 8);
    await expect(pretrain({ ...base, epochs: 2, tasks: ['sequential'], out: out('nan2'), nanAtStep: steps + 1 })).rejects.toThrow(
      /loss became NaN or infinite at step \d+ \(epoch 2\).*best model so far \(epoch 1\)/,
    );
    const log = readFileSync(path.join(out('nan2'), 'train_log.jsonl'), 'utf8');
    expect(log).toContain('non-finite-loss');
    expect(existsSync(path.join(out('nan2'), 'model.safetensors'))).toBe(true);
    expect(good.length).toBeGreaterThan(0);
    // An absurd learning rate diverges for real.
    await expect(pretrain({ ...base, epochs: 3, tasks: ['sequential'], lr: 1e8, clipNorm: 0, out: out('nan3') })).rejects.toThrow(/NaN or infinite/);
  });
});
