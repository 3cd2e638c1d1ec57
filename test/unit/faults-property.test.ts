// Property tests (fast-check) over the data and checkpoint parsers, on real files: random mutations (byte flips,
// insertions, deletions, truncation) never crash (only PaprecError, which names the file), never run past a time
// bound, and never pass silently when the content changed meaningfully.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaprecError } from '../../src/errors.js';
import { parseSequentialData } from '../../src/data/sequential.js';
import { parseDatamaps } from '../../src/data/datamaps.js';
import { readSafetensors } from '../../src/checkpoint/index.js';
import { parsePth } from '../../src/checkpoint/pth.js';
import { decodeSentencePieceModel } from '../../src/tokenizer/spmProto.js';

const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');

const DATA = path.join(SHARED, 'data/beauty');
const FIXTURE = path.join(SHARED, 'fixtures/t5-tiny');
/** Per parse: far above the real time (milliseconds), far below a hang. */
const BOUND_MS = 3000;
const RUNS = 150;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'paprec-faults-prop-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Mutation = { kind: 'flip'; at: number; byte: number } | { kind: 'insert'; at: number; byte: number } | { kind: 'delete'; at: number; len: number } | { kind: 'truncate'; at: number };

function mutation(size: number, byte = fc.integer({ min: 0, max: 255 })): fc.Arbitrary<Mutation> {
  const at = fc.integer({ min: 0, max: size - 1 });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, byte }),
    fc.record({ kind: fc.constant('insert' as const), at, byte }),
    fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
  );
}

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const b = Buffer.from(bytes);
  if (m.kind === 'flip') {
    const out = Buffer.from(b);
    out[m.at] = out[m.at] === m.byte ? (m.byte + 1) % 256 : m.byte;
    return out;
  }
  if (m.kind === 'insert') return Buffer.concat([b.subarray(0, m.at), Buffer.from([m.byte]), b.subarray(m.at)]);
  if (m.kind === 'delete') return Buffer.concat([b.subarray(0, m.at), b.subarray(m.at + m.len)]);
  return b.subarray(0, m.at);
}

/** Run `parse`: a PaprecError naming `file` or a result, within the bound; anything else fails the property. */
async function outcome<T>(file: string, parse: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  const started = Date.now();
  try {
    const value = await parse();
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    return { ok: true, value };
  } catch (err) {
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    if (!(err instanceof PaprecError)) throw new Error(`not a PaprecError: ${(err as Error)?.stack ?? String(err)}`);
    expect(err.message).toContain(file);
    return { ok: false };
  }
}

/** Whitespace-insensitive token content of a text file (what a whitespace-separated parser may depend on). */
const tokens = (s: string) => s.split(/\s+/).filter((t) => t !== '');
/** Line structure with tokens (a merged or split line is a meaningful change). */
const lineTokens = (s: string) => s.split('\n').map(tokens).filter((l) => l.length > 0);

describe('property: parsers under random mutations of real files', () => {
  it('sequential_data.txt: any change of its tokens or lines is refused or visible in the result', async () => {
    const lines = readFileSync(path.join(DATA, 'sequential_data.txt'), 'utf8').split('\n').slice(0, 120);
    const text = `${lines.join('\n')}\n`;
    const bytes = Buffer.from(text);
    const file = 'beauty/sequential_data.txt';
    const original = parseSequentialData(text, file);
    await fc.assert(
      fc.asyncProperty(mutation(bytes.length, fc.constantFrom(...Buffer.from('0123456789 \t\nxa-.'))), async (m) => {
        const mutated = Buffer.from(apply(bytes, m)).toString('utf8');
        const r = await outcome(file, () => parseSequentialData(mutated, file));
        if (!r.ok) return;
        const same = JSON.stringify(r.value) === JSON.stringify(original);
        const meaningful = JSON.stringify(lineTokens(mutated)) !== JSON.stringify(lineTokens(text));
        if (meaningful) expect(same, `mutation ${JSON.stringify(m)} passed silently`).toBe(false);
      }),
      { numRuns: RUNS, seed: 19 },
    );
  }, 60_000);

  it('datamaps.json: a change that alters the JSON value is refused or visible', async () => {
    const full = JSON.parse(readFileSync(path.join(DATA, 'datamaps.json'), 'utf8')) as Record<string, Record<string, string>>;
    // A small, consistent slice of the real maps: users 1..30, items 1..60.
    const pick = (m: Record<string, string>, keys: (k: string, v: string) => boolean) => Object.fromEntries(Object.entries(m).filter(([k, v]) => keys(k, v)));
    const small = {
      user2id: pick(full.user2id!, (_k, v) => Number(v) <= 30),
      item2id: pick(full.item2id!, (_k, v) => Number(v) <= 60),
      id2user: pick(full.id2user!, (k) => Number(k) <= 30),
      id2item: pick(full.id2item!, (k) => Number(k) <= 60),
    };
    const text = JSON.stringify(small);
    const bytes = Buffer.from(text);
    const file = 'beauty/datamaps.json';
    const original = parseDatamaps(text, file);
    await fc.assert(
      fc.asyncProperty(mutation(bytes.length, fc.constantFrom(...Buffer.from('0123456789"{}:, AB'))), async (m) => {
        const mutated = Buffer.from(apply(bytes, m)).toString('utf8');
        const r = await outcome(file, () => parseDatamaps(mutated, file));
        if (!r.ok) return;
        let value: Record<string, unknown>;
        try {
          value = JSON.parse(mutated) as Record<string, unknown>;
        } catch {
          throw new Error(`invalid JSON accepted: ${JSON.stringify(m)}`);
        }
        // What the maps say: id -> name per kind, from id2* or else inverted from *2id (P5 copies may hold one side).
        const content = (v: Record<string, unknown>) =>
          JSON.stringify(['user', 'item'].map((k) => {
            const back = v[`id2${k}`] as Record<string, unknown> | undefined;
            const fwd = v[`${k}2id`] as Record<string, unknown> | undefined;
            return back ?? Object.fromEntries(Object.entries(fwd ?? {}).map(([name, id]) => [String(id), name]));
          }));
        const result = (d: typeof original) => JSON.stringify(Object.entries(d).map(([k, x]) => [k, x instanceof Map ? [...x] : x]));
        if (content(value) !== content(small)) expect(result(r.value), `mutation ${JSON.stringify(m)} passed silently`).not.toBe(result(original));
      }),
      { numRuns: RUNS, seed: 19 },
    );
  }, 60_000);

  it('model.safetensors: truncation is always refused; other changes are refused or change the tensors', async () => {
    const bytes = readFileSync(path.join(FIXTURE, 'model.safetensors'));
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const headerOf = (b: Uint8Array) => {
      try {
        return JSON.stringify(JSON.parse(Buffer.from(b.subarray(8, headerEnd)).toString('utf8')));
      } catch {
        return undefined;
      }
    };
    const file = path.join(tmp, 'model.safetensors');
    writeFileSync(file, bytes);
    const digest = (t: Map<string, { shape: number[]; data: Float32Array }>) =>
      [...t].map(([n, x]) => `${n}:${x.shape.join('x')}:${Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).toString('base64')}`).join('|');
    const original = digest(await readSafetensors(file));
    await fc.assert(
      fc.asyncProperty(mutation(bytes.length), async (m) => {
        const mutated = apply(bytes, m);
        writeFileSync(file, mutated);
        const r = await outcome(file, () => readSafetensors(file));
        if (m.kind === 'truncate') expect(r.ok, 'a truncated file was accepted').toBe(false);
        if (!r.ok) return;
        // Only a change inside the header that leaves its JSON value equal (whitespace) may read back the same.
        const harmless = m.kind === 'flip' && m.at >= 8 && m.at < headerEnd && headerOf(mutated) === headerOf(bytes);
        if (!harmless) expect(digest(r.value), `mutation ${JSON.stringify(m)} passed silently`).not.toBe(original);
      }),
      { numRuns: RUNS, seed: 19 },
    );
  }, 60_000);

  it('state_dict.pth (torch.save zip): never crashes, truncation is always refused', async () => {
    const bytes = readFileSync(path.join(FIXTURE, 'state_dict.pth'));
    const file = 'state_dict.pth';
    await fc.assert(
      fc.asyncProperty(mutation(bytes.length), async (m) => {
        const r = await outcome(file, () => parsePth(apply(bytes, m), file));
        if (m.kind === 'truncate') expect(r.ok, 'a truncated .pth was accepted').toBe(false);
      }),
      { numRuns: RUNS, seed: 19 },
    );
  }, 60_000);

  it('spiece.model: never crashes, truncation is always refused', async () => {
    const bytes = readFileSync(path.join(SHARED, 'data/t5/spiece.model'));
    const file = 'spiece.model';
    await fc.assert(
      fc.asyncProperty(mutation(bytes.length), async (m) => {
        const r = await outcome(file, () => decodeSentencePieceModel(apply(bytes, m), file));
        if (m.kind === 'truncate') expect(r.ok, `a truncated spiece.model (${m.at} bytes) was accepted`).toBe(false);
      }),
      { numRuns: 30, seed: 19 },
    );
  }, 60_000);
});
