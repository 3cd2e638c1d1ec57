// Fault suite, inputs half (no addon): state files validated by a schema before use, a truncated history refused
// with its line, --resume refusing changed settings by name, bad interaction logs, poisoned tied embeddings named
// as poisoned (not as untied), a truncated spiece.model named as truncated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSearchOptions } from '../../src/search/options.js';
import { initialVariantState, loadState, resumeOptions, reopenForEpochs, saveState, variantSpecs, type RunState } from '../../src/search/state.js';
import { appendHistory, readCommittedHistory, truncateHistory, type HistoryRecord } from '../../src/search/history.js';
import { loadTrainState } from '../../src/train/state.js';
import { parseInteractionLog } from '../../src/data/interactionLog.js';
import { canonicalizeStateDict } from '../../src/checkpoint/names.js';
import { firstNonFinite } from '../../src/checkpoint/finite.js';
import { decodeSentencePieceModel } from '../../src/tokenizer/spmProto.js';

const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'paprec-faults-in-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runState(): RunState {
  const options = resolveSearchOptions({ task: 'sequential', length: 3, personalized: true, k: 3, epochs: 4, beams: 5 });
  return {
    version: 1,
    inputs: { data: '/d', model: '/m', tokenizer: '/t' },
    options,
    variants: variantSpecs(options).map((spec) => initialVariantState(spec, { taskTokens: [5, 6, 7] })),
    historyLength: 0,
    phase: 'search',
  };
}

async function stateWith(name: string, edit: (s: Record<string, any>) => void): Promise<string> {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  await saveState(dir, runState());
  const file = path.join(dir, 'state.json');
  const s = JSON.parse(readFileSync(file, 'utf8'));
  edit(s);
  writeFileSync(file, JSON.stringify(s));
  return dir;
}

const record = (epoch: number): HistoryRecord => ({
  search: 'np-l3', epoch, kind: 'task', length: 3, placement: 'suffix', slot: 0, candidates: [], before: 0, after: 0, accepted: false, best: 0, time: 0,
});

describe('search state.json: schema before use', () => {
  it('reads back what it wrote', async () => {
    const dir = await stateWith('ok', () => {});
    expect((await loadState(dir)).variants[0]!.spec.length).toBe(3);
  });

  it.each([
    ['a status from nowhere', (s: any) => (s.variants[0].status = 'exploded'), /variants\[0\]\.status: expected one of "pending", "running", "done", got "exploded"/],
    ['an epoch that is a word', (s: any) => (s.variants[0].epoch = 'three'), /variants\[0\]\.epoch: expected an integer >= 0, got "three"/],
    ['a missing field', (s: any) => delete s.historyLength, /historyLength: expected an integer >= 0, got nothing \(missing\)/],
    ['a negative token id', (s: any) => (s.variants[0].best.taskTokens[1] = -4), /variants\[0\]\.best\.taskTokens\[1\]: expected an integer >= 0, got -4/],
    ['a wrong number of task tokens', (s: any) => s.variants[0].current.taskTokens.push(9), /3 task tokens expected/],
    ['an unknown task', (s: any) => (s.options.task = 'rating'), /options\.task: expected one of/],
    ['another version', (s: any) => (s.version = 7), /state version 7, this paprec reads 1/],
  ])('refuses %s, naming the field', async (_what, edit, message) => {
    const dir = await stateWith(`bad-${Math.random().toString(36).slice(2)}`, edit);
    await expect(loadState(dir)).rejects.toThrow(message);
  });

  it('refuses a torn state.json as damaged JSON', async () => {
    const dir = await stateWith('torn', () => {});
    const file = path.join(dir, 'state.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 50));
    await expect(loadState(dir)).rejects.toThrow(`${file}: not valid JSON`);
  });
});

describe('history.jsonl against state.json', () => {
  it('a truncated or torn history is refused naming the line; uncommitted lines after it are dropped', async () => {
    const file = path.join(tmp, 'history.jsonl');
    writeFileSync(file, '');
    for (let i = 0; i < 8; i++) await appendHistory(file, record(i));
    expect(await readCommittedHistory(file, 8)).toHaveLength(8);
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, lines.slice(0, 2).join('\n') + '\n');
    await expect(readCommittedHistory(file, 8)).rejects.toThrow(`${file}: truncated: 2 of the 8 rounds state.json records (the file ends at line 3)`);
    writeFileSync(file, [...lines.slice(0, 4), lines[4]!.slice(0, 20), ...lines.slice(5)].join('\n'));
    await expect(readCommittedHistory(file, 8)).rejects.toThrow(`${file}:5: not a whole JSON record`);
    // kill -9 between the history append and the state write: one extra (maybe torn) line, dropped on resume.
    writeFileSync(file, lines.slice(0, 8).join('\n') + '\n' + lines[8]!.slice(0, 10));
    await truncateHistory(file, 8);
    expect(readFileSync(file, 'utf8')).toBe(lines.slice(0, 8).join('\n') + '\n');
  });
});

describe('--resume with other settings', () => {
  const saved = runState().options;
  it('refuses each changed option by name', () => {
    expect(() => resumeOptions(saved, { beams: 3, k: 4, seed: saved.seed }, 'out/state.json')).toThrow(
      /--resume continues the saved search, whose settings differ from the ones given: --k: saved 3, now 4; --beams: saved 5, now 3\./,
    );
    expect(() => resumeOptions(saved, { length: '3,4' }, 'f')).toThrow(/--length: saved \[3\] false, now \[3,4\] true/);
    expect(() => resumeOptions(saved, { epochs: 2 }, 'f')).toThrow(/--epochs: saved 4, now 2 \(it may only be raised\)/);
    expect(() => resumeOptions(saved, { beams: 0 }, 'f')).toThrow(/beams must be an integer in 1\.\.256, got 0/);
  });

  it('takes the same values, a new device / streams, and a raised --epochs (reopening searches stopped by the old limit)', () => {
    const o = resumeOptions(saved, { beams: 5, k: 3, device: 'cuda:1', streams: 2, epochs: 9 }, 'f');
    expect(o).toMatchObject({ beams: 5, k: 3, device: 'cuda:1', streams: 2, epochs: 9 });
    expect(() => resumeOptions(saved, { streams: 0 }, 'f')).toThrow(/streams must be an integer in 1\.\.64, got 0/);
    const s = runState();
    s.variants[0]!.status = 'done';
    s.variants[0]!.stopReason = 'max-epochs';
    s.variants[0]!.epoch = 4;
    s.variants[1]!.status = 'done';
    s.variants[1]!.stopReason = 'converged';
    s.phase = 'done';
    s.options = o;
    expect(reopenForEpochs(s)).toBe(1);
    expect(s.variants.map((v) => v.status)).toEqual(['running', 'done']);
    expect(s.phase).toBe('search');
  });
});

describe('pretrain train_state/state.json: schema before use', () => {
  it('refuses wrong types naming the field, and file names that leave the folder', async () => {
    const dir = path.join(tmp, 'pre');
    mkdirSync(path.join(dir, 'train_state'), { recursive: true });
    const good = {
      version: 1,
      identity: { config: { vocabSize: 10, dModel: 4 }, tasks: ['sequential'], seed: 1, batchSize: 2, lr: 0.001, epochs: 2, maxUsers: null, sequentialPerUser: 1, weightDecay: 0, clipNorm: 1, warmupSteps: 0, totalSteps: 4 },
      epoch: 1, batch: 0, step: 2, best: null, weightsFile: 'w.safetensors', optimizerFile: 'o.safetensors',
    };
    const file = path.join(dir, 'train_state', 'state.json');
    const attempt = (s: unknown) => {
      writeFileSync(file, JSON.stringify(s));
      return loadTrainState(dir);
    };
    await expect(attempt({ ...good, epoch: 'three' })).rejects.toThrow(`${file}: epoch: expected an integer >= 0, got "three"`);
    await expect(attempt({ ...good, identity: { ...good.identity, lr: 'fast' } })).rejects.toThrow(/identity\.lr: expected a finite number, got "fast"/);
    await expect(attempt({ ...good, weightsFile: '../../etc/passwd' })).rejects.toThrow(/must be a \.safetensors file name inside train_state/);
    await expect(attempt({ ...good, best: { epoch: 0, validation: { loss: 'low' } } })).rejects.toThrow(/best\.validation\.loss: expected a finite number/);
    await expect(attempt(good)).rejects.toThrow(/w\.safetensors/); // valid state, missing tensor file: named
  });
});

describe('interaction logs', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('refuses negative ratings and timestamps with file and line', () => {
    expect(() => parseInteractionLog(enc('1\t2\t5\t100\n1\t3\t-1\t200\n'), 'u.data', 'movielens')).toThrow(/u\.data:2: rating "-1" is negative/);
    expect(() => parseInteractionLog(enc('1\t2\t5\t-100\n'), 'u.data', 'movielens')).toThrow(/u\.data:1: timestamp "-100" is negative/);
    expect(() => parseInteractionLog(enc('user,item,timestamp\na,b,1969-01-01\n'), 'r.csv', 'csv')).toThrow(/r\.csv:2: timestamp "1969-01-01" is negative/);
    expect(() => parseInteractionLog(enc('{"reviewerID": "u", "asin": "i", "unixReviewTime": -5}\n'), 'r.json', 'amazon-json')).toThrow(/r\.json:1: .*negative/);
    expect(parseInteractionLog(enc('1\t2\t0\t0\n'), 'u.data', 'movielens')).toHaveLength(1);
  });
});

describe('poisoned tied embeddings', () => {
  it('Inf in one row of one tied copy is reported as a non-finite value, not as an untied model', () => {
    const shape = [4, 3];
    const shared = new Float32Array(12).fill(0.5);
    const enc = shared.slice();
    enc[7] = Infinity;
    const tensors = new Map([
      ['shared.weight', { shape, data: shared }],
      ['encoder.embed_tokens.weight', { shape, data: enc }],
    ]);
    expect(() => canonicalizeStateDict(tensors, 'model.safetensors')).toThrow(
      'model.safetensors: tensor encoder.embed_tokens.weight holds Infinity at [2, 1] (weights must be finite)',
    );
    const nan = shared.slice();
    nan[0] = NaN;
    expect(firstNonFinite({ shape, data: nan })).toEqual({ index: [0, 0], value: 'NaN' });
    expect(firstNonFinite({ shape, data: shared })).toBeUndefined();
  });
});

describe('spiece.model', () => {
  it('a truncated file is named as truncated, not as a bad unk_id', () => {
    const real = readFileSync(path.join(SHARED, 'data/t5/spiece.model'));
    for (const cut of [0.5, 0.9, 0.999]) {
      const n = Math.floor(real.length * cut);
      expect(() => decodeSentencePieceModel(real.subarray(0, n), 'spiece.model')).toThrow(/spiece\.model: .*truncated/);
    }
  });
});
