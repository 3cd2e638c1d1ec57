import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { unpickle, type PickleCallable } from '../../src/checkpoint/pickle.js';
import { PaprecError } from '../../src/errors.js';

/**
 * Bytes made by CPython 3 `pickle.dumps(obj, protocol=p)` for
 * obj = {'train': [{'reviewerID': 'A1', 'asin': 'B0', 'overall': 5.0, 'explanation': 'great smell', 'feature': 'smell'},
 *                  {'reviewerID': 'A2', 'asin': 'B1', 'overall': 3.5, 'explanation': 'ok \u00e9\u4e2d', 'feature': None}],
 *        'val': [], 'test': (1, -2, 2**40, -2**70, True, False, -1.25), 3: 'int key'}
 * (the shape of P5's exp_splits.pkl, plus the awkward cases: an int key, big ints, non-ASCII text, memo references).
 */
const CPYTHON: Record<number, string> = {
  2: 'gAJ9cQAoWAUAAAB0cmFpbnEBXXECKH1xAyhYCgAAAHJldmlld2VySURxBFgCAAAAQTFxBVgEAAAAYXNpbnEGWAIAAABCMHEHWAcAAABvdmVyYWxscQhHQBQAAAAAAABYCwAAAGV4cGxhbmF0aW9ucQlYCwAAAGdyZWF0IHNtZWxscQpYBwAAAGZlYXR1cmVxC1gFAAAAc21lbGxxDHV9cQ0oaARYAgAAAEEycQ5oBlgCAAAAQjFxD2gIR0AMAAAAAAAAaAlYCAAAAG9rIMOp5LitcRBoC051ZVgDAAAAdmFscRFdcRJYBAAAAHRlc3RxEyhLAUr+////igYAAAAAAAGKCQAAAAAAAAAAwIiJR7/0AAAAAAAAdHEUSwNYBwAAAGludCBrZXlxFXUu',
  3: 'gAN9cQAoWAUAAAB0cmFpbnEBXXECKH1xAyhYCgAAAHJldmlld2VySURxBFgCAAAAQTFxBVgEAAAAYXNpbnEGWAIAAABCMHEHWAcAAABvdmVyYWxscQhHQBQAAAAAAABYCwAAAGV4cGxhbmF0aW9ucQlYCwAAAGdyZWF0IHNtZWxscQpYBwAAAGZlYXR1cmVxC1gFAAAAc21lbGxxDHV9cQ0oaARYAgAAAEEycQ5oBlgCAAAAQjFxD2gIR0AMAAAAAAAAaAlYCAAAAG9rIMOp5LitcRBoC051ZVgDAAAAdmFscRFdcRJYBAAAAHRlc3RxEyhLAUr+////igYAAAAAAAGKCQAAAAAAAAAAwIiJR7/0AAAAAAAAdHEUSwNYBwAAAGludCBrZXlxFXUu',
  4: 'gASV5AAAAAAAAAB9lCiMBXRyYWlulF2UKH2UKIwKcmV2aWV3ZXJJRJSMAkExlIwEYXNpbpSMAkIwlIwHb3ZlcmFsbJRHQBQAAAAAAACMC2V4cGxhbmF0aW9ulIwLZ3JlYXQgc21lbGyUjAdmZWF0dXJllIwFc21lbGyUdX2UKGgEjAJBMpRoBowCQjGUaAhHQAwAAAAAAABoCYwIb2sgw6nkuK2UaAtOdWWMA3ZhbJRdlIwEdGVzdJQoSwFK/v///4oGAAAAAAABigkAAAAAAAAAAMCIiUe/9AAAAAAAAHSUSwOMB2ludCBrZXmUdS4=',
  5: 'gAWV5AAAAAAAAAB9lCiMBXRyYWlulF2UKH2UKIwKcmV2aWV3ZXJJRJSMAkExlIwEYXNpbpSMAkIwlIwHb3ZlcmFsbJRHQBQAAAAAAACMC2V4cGxhbmF0aW9ulIwLZ3JlYXQgc21lbGyUjAdmZWF0dXJllIwFc21lbGyUdX2UKGgEjAJBMpRoBowCQjGUaAhHQAwAAAAAAABoCYwIb2sgw6nkuK2UaAtOdWWMA3ZhbJRdlIwEdGVzdJQoSwFK/v///4oGAAAAAAABigkAAAAAAAAAAMCIiUe/9AAAAAAAAHSUSwOMB2ludCBrZXmUdS4=',
};
/** pickle.dumps({'b': b'\x00\xff'}, protocol=2): protocol 2 spells bytes as a call of _codecs.encode. */
const BYTES_P2 = 'gAJ9cQBYAQAAAGJxAWNfY29kZWNzCmVuY29kZQpxAlgDAAAAAMO/cQNYBgAAAGxhdGluMXEEhnEFUnEGcy4=';
/** The same with protocol=4 (SHORT_BINBYTES). */
const BYTES_P4 = 'gASVDQAAAAAAAAB9lIwBYpRDAgD/lHMu';

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** A small pickle writer for hand-made inputs (protocol 2 opcodes). */
class Writer {
  private out: number[] = [0x80, 2];
  op(...bytes: number[]): this { this.out.push(...bytes); return this; }
  u32(n: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(n); return this.op(...b); }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); this.op(0x58); this.u32(b.length); return this.op(...b); }
  global(module: string, name: string): this { return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`)); }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    const b = Buffer.alloc(4); b.writeInt32LE(n); return this.op(0x4a, ...b);
  }
  value(v: unknown): this {
    if (v === null) return this.op(0x4e);
    if (v === true) return this.op(0x88);
    if (v === false) return this.op(0x89);
    if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31) return this.int(v);
    if (typeof v === 'number') { const b = Buffer.alloc(8); b.writeDoubleBE(v); return this.op(0x47, ...b); }
    if (typeof v === 'string') return this.str(v);
    if (Array.isArray(v)) { this.op(0x5d, 0x28); for (const x of v) this.value(x); return this.op(0x65); }
    this.op(0x7d, 0x28);
    for (const [k, x] of Object.entries(v as object)) this.str(k).value(x);
    return this.op(0x75);
  }
  bytes(): Uint8Array { return new Uint8Array([...this.out, 0x2e]); }
}

describe('unpickle: CPython plain-data pickles', () => {
  for (const p of [2, 3, 4, 5]) {
    it(`protocol ${p}: dicts with string keys become objects, others Maps; ints, floats, text, tuples`, () => {
      const v = unpickle(b64(CPYTHON[p]!), { source: `p${p}.pkl` });
      expect(v).toBeInstanceOf(Map); // the int key 3 forces a Map
      const m = v as Map<unknown, unknown>;
      expect([...m.keys()]).toEqual(['train', 'val', 'test', 3]);
      expect(m.get(3)).toBe('int key');
      expect(m.get('val')).toEqual([]);
      const train = m.get('train') as Record<string, unknown>[];
      expect(train).toHaveLength(2);
      expect(train[0]).toEqual({ reviewerID: 'A1', asin: 'B0', overall: 5, explanation: 'great smell', feature: 'smell' });
      expect(train[1]).toEqual({ reviewerID: 'A2', asin: 'B1', overall: 3.5, explanation: 'ok \u00e9\u4e2d', feature: null });
      expect(Object.getPrototypeOf(train[0])).toBe(Object.prototype);
      expect(m.get('test')).toEqual([1, -2, 2 ** 40, -(2n ** 70n), true, false, -1.25]);
    });
  }

  it('protocol 2 bytes need the _codecs.encode global: refused by name without a resolver', () => {
    expect(() => unpickle(b64(BYTES_P2), { source: 'bytes.pkl' })).toThrow(/bytes\.pkl: pickle byte \d+: global _codecs\.encode is not allowed/);
  });

  it('protocol 4 bytes come out as Uint8Array', () => {
    expect(unpickle(b64(BYTES_P4), { source: 'b.pkl' })).toEqual({ b: new Uint8Array([0, 255]) });
  });
});

describe('unpickle: safety', () => {
  it('refuses os.system (GLOBAL + REDUCE) by name; the resolver is asked and nothing runs', () => {
    const asked: string[] = [];
    const pkl = new Writer().global('os', 'system').str('touch /tmp/pwned').op(0x85, 0x52).bytes();
    expect(() => unpickle(pkl, { source: 'evil.pkl' })).toThrow(PaprecError);
    expect(() => unpickle(pkl, { source: 'evil.pkl' })).toThrow(/evil\.pkl: pickle byte 2: global os\.system is not allowed/);
    expect(() =>
      unpickle(pkl, { source: 'evil.pkl', resolveGlobal: (m, n) => { asked.push(`${m}.${n}`); return undefined; } }),
    ).toThrow(/os\.system/);
    expect(asked).toEqual(['os.system']);
  });

  it('refuses builtins.eval through STACK_GLOBAL', () => {
    const pkl = new Writer().str('builtins').str('eval').op(0x93).str('1+1').op(0x85, 0x52).bytes();
    expect(() => unpickle(pkl, { source: 'e.pkl' })).toThrow(/global builtins\.eval is not allowed/);
  });

  it('REDUCE calls only a function the caller supplied; BUILD goes through its setState', () => {
    const calls: unknown[][] = [];
    const make: PickleCallable = Object.assign((...args: unknown[]) => { calls.push(args); return { made: args }; }, {
      setState: (obj: unknown, state: unknown) => { (obj as Record<string, unknown>).state = state; },
    });
    const pkl = new Writer().global('my', 'Thing').int(7).str('x').op(0x86, 0x52).value({ k: 1 }).op(0x62).bytes();
    const v = unpickle(pkl, { source: 't.pkl', resolveGlobal: (m, n) => (m === 'my' && n === 'Thing' ? make : undefined) });
    expect(calls).toEqual([[7, 'x']]);
    expect((v as { made: unknown[] }).made).toEqual([7, 'x']);
    expect((v as { state: Map<string, number> }).state).toEqual(new Map([['k', 1]])); // raw VM dict
  });

  it('REDUCE on a non-function value and BUILD on plain data are refused', () => {
    const notFn = new Writer().global('my', 'Value').op(0x29, 0x52).bytes();
    expect(() => unpickle(notFn, { source: 'x.pkl', resolveGlobal: () => ({ inert: true }) })).toThrow(/REDUCE on an object; only functions/);
    const build = new Writer().value({ a: 1 }).value({ b: 2 }).op(0x62).bytes();
    expect(() => unpickle(build, { source: 'y.pkl' })).toThrow(/y\.pkl: .*BUILD on a dict/);
  });

  it('a __proto__ key becomes an own property, never the prototype', () => {
    // Built by hand: EMPTY_DICT, key, value, SETITEM.
    const hand = new Writer().op(0x7d).str('__proto__').value({ polluted: true }).op(0x73).bytes();
    const v = unpickle(hand, { source: 'p.pkl' }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('unpickle: malformed input', () => {
  it('names an unsupported opcode and its byte offset', () => {
    // protocol 0 text INT opcode 'I' after PROTO 2
    const pkl = new Uint8Array([0x80, 2, 0x49, 0x31, 0x0a, 0x2e]);
    expect(() => unpickle(pkl, { source: 'old.pkl' })).toThrow('old.pkl: pickle byte 2: opcode 0x49 (INT) is not supported');
    const inst = new Uint8Array([0x80, 2, 0x69, 0x6f, 0x73, 0x0a, 0x73, 0x0a, 0x2e]);
    expect(() => unpickle(inst, { source: 'i.pkl' })).toThrow(/opcode 0x69 \(INST\) is not supported/);
  });

  it('reports truncation, a bad memo index and a missing STOP', () => {
    const full = new Writer().value({ key: 'value' }).bytes();
    expect(() => unpickle(full.subarray(0, 10), { source: 't.pkl' })).toThrow(/t\.pkl: pickle byte \d+: truncated pickle/);
    expect(() => unpickle(full.subarray(0, full.length - 1), { source: 't.pkl' })).toThrow(/truncated pickle/);
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x68, 5, 0x2e]), { source: 'm.pkl' })).toThrow(/memo entry 5 is not defined/);
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x2e]), { source: 's.pkl' })).toThrow(/STOP on an empty stack/);
    expect(() => unpickle(new Uint8Array([0x80, 9, 0x4e, 0x2e]), { source: 'v.pkl' })).toThrow(/protocol 9 is not supported/);
  });

  it('keeps shared references and cycles (memo)', () => {
    // l = [1]; [l, l] with BINPUT/BINGET, then a list that contains itself.
    const shared = new Uint8Array([0x80, 2, 0x5d, 0x28, 0x5d, 0x71, 0, 0x4b, 1, 0x61, 0x68, 0, 0x65, 0x2e]);
    const v = unpickle(shared, { source: 's.pkl' }) as unknown[][];
    expect(v).toEqual([[1], [1]]);
    expect(v[0]).toBe(v[1]);
    const cyclic = new Uint8Array([0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e]);
    const c = unpickle(cyclic, { source: 'c.pkl' }) as unknown[];
    expect(c[0]).toBe(c);
  });
});

describe('unpickle: property', () => {
  it('round-trips JSON-like values written with protocol-2 opcodes', () => {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.double({ noNaN: true }), fc.string({ unit: 'grapheme' })),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(unpickle(new Writer().value(v).bytes(), { source: 'prop.pkl' })).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });
});
