/** The small format helpers of src/data: Python literals, the pickle writer, the seeded RNG, gzip. */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { unpickle } from '../../src/checkpoint/pickle.js';
import { gunzipOrFail } from '../../src/data/gzip.js';
import { picklePlain, PyFloat, PyTuple, type PlainValue } from '../../src/data/pickleWriter.js';
import { parsePythonLiteral } from '../../src/data/pyLiteral.js';
import { deriveSeed, Rng, rngFor } from '../../src/data/rng.js';

const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('parsePythonLiteral', () => {
  it('parses an Amazon meta line', () => {
    const line = `{'asin': 'B0001', 'title': 'Soap \\'x\\'', 'price': 3.5, 'categories': [['Beauty', 'Skin Care']], 'salesRank': {'Beauty': 12345}, 'related': {'bought_together': ('B1',)}, 'imUrl': None, 'big': True}`;
    expect(plain(parsePythonLiteral(line))).toEqual({
      asin: 'B0001',
      title: "Soap 'x'",
      price: 3.5,
      categories: [['Beauty', 'Skin Care']],
      salesRank: { Beauty: 12345 },
      related: { bought_together: ['B1'] },
      imUrl: null,
      big: true,
    });
  });

  it('handles both quote styles, escapes, prefixes, adjacent literals and triple quotes', () => {
    expect(parsePythonLiteral(`"it's"`)).toBe("it's");
    expect(parsePythonLiteral(`'say "hi"'`)).toBe('say "hi"');
    expect(parsePythonLiteral(`'a\\nb\\t\\\\\\x41\\u00e9\\U0001F600\\101\\q'`)).toBe('a\nb\t\\Aé😀A\\q');
    expect(parsePythonLiteral(`u'caf\\xe9'`)).toBe('café');
    expect(parsePythonLiteral(`r'a\\nb'`)).toBe('a\\nb');
    expect(parsePythonLiteral(`'ab' "cd"`)).toBe('abcd');
    expect(parsePythonLiteral(`'''x ' y'''`)).toBe("x ' y");
  });

  it('numbers, constants, tuples, sets and non-string keys', () => {
    expect(parsePythonLiteral('[1, -2, 3.5, 1e3, -2.5E-2, .5, 5., 0x1f, 1_000]')).toEqual([1, -2, 3.5, 1000, -0.025, 0.5, 5, 31, 1000]);
    expect(parsePythonLiteral('(1)')).toBe(1);
    expect(parsePythonLiteral('(1,)')).toEqual([1]);
    expect(parsePythonLiteral('()')).toEqual([]);
    expect(parsePythonLiteral('{1, 2}')).toEqual([1, 2]);
    expect(parsePythonLiteral('{}')).toEqual({});
    const m = parsePythonLiteral('{1: "a", (2, 3): None}');
    expect(m).toBeInstanceOf(Map);
    expect([...(m as Map<unknown, unknown>).values()]).toEqual(['a', null]);
    // A key named __proto__ stays an ordinary key.
    const o = parsePythonLiteral(`{'__proto__': 1}`) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(o)).toBeNull();
  });

  it('rejects code and malformed text with a column', () => {
    expect(() => parsePythonLiteral(`{'a': open('x')}`, 'f:3')).toThrow(/^f:3: column 7: name "open" is not a literal/);
    expect(() => parsePythonLiteral(`{'a': 1 + 2}`, 'f:1')).toThrow(/column 9: expected "," or "}"/);
    expect(() => parsePythonLiteral(`{'a': 'unterminated}`, 'f:1')).toThrow(/column 7: unterminated string/);
    expect(() => parsePythonLiteral(`[1, 2`, 'f:1')).toThrow(/unclosed \[ opened at column 1/);
    expect(() => parsePythonLiteral(`{'a': 1} x`, 'f:1')).toThrow(/column 10: unexpected "x" after the literal/);
    expect(() => parsePythonLiteral(`'\\xZZ'`, 'f:1')).toThrow(/bad \\x escape/);
    expect(() => parsePythonLiteral(`{[1]: 2}`, 'f:1')).toThrow(/unhashable dict key/);
    expect(() => parsePythonLiteral(`12abc`, 'f:1')).toThrow(/malformed number/);
  });

  it('parses what a Python-style repr of random JSON data prints (property)', () => {
    const pyRepr = (v: unknown): string => {
      if (v === null) return 'None';
      if (v === true) return 'True';
      if (v === false) return 'False';
      if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toExponential();
      if (typeof v === 'string') {
        const q = v.includes("'") && !v.includes('"') ? '"' : "'";
        let out = '';
        for (const ch of v) {
          const c = ch.codePointAt(0)!;
          if (ch === '\\' || ch === q) out += '\\' + ch;
          else if (ch === '\n') out += '\\n';
          else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
          else out += ch;
        }
        return q + out + q;
      }
      if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
      return '{' + Object.entries(v as object).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ') + '}';
    };
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(plain(parsePythonLiteral(pyRepr(v)))).toEqual(plain(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('picklePlain', () => {
  it('round-trips through the restricted unpickler', () => {
    const value = {
      train: [{ reviewerID: 'A1', asin: 'B2', overall: new PyFloat(5), explanation: 'é 😀', feature: null }],
      ints: [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, 2147483648, 2 ** 53 - 1],
      floats: [1.5, -0.25, 1e300],
      big: 123456789012345678901234567890n,
      tuple: new PyTuple(1, 'a', true),
      long: Array.from({ length: 2500 }, (_, i) => i),
      empty: {},
    };
    const back = unpickle(picklePlain(value as PlainValue), { source: 't.pkl' }) as Record<string, unknown>;
    expect(back.train).toEqual([{ reviewerID: 'A1', asin: 'B2', overall: 5, explanation: 'é 😀', feature: null }]);
    expect(back.ints).toEqual(value.ints);
    expect(back.floats).toEqual(value.floats);
    expect(back.big).toBe(value.big);
    expect(back.tuple).toEqual([1, 'a', true]);
    expect(back.long).toEqual(value.long);
    expect(back.empty).toEqual({});
  });

  it('writes the exact protocol-2 bytes CPython reads (hand-checked opcodes)', () => {
    // {'a': [1, 2.0]} -> PROTO 2, EMPTY_DICT, MARK, BINUNICODE 'a', EMPTY_LIST, MARK, BININT1 1, BINFLOAT 2.0,
    // APPENDS, SETITEMS, STOP
    const bytes = [...picklePlain({ a: [1, new PyFloat(2)] })];
    expect(bytes).toEqual([
      0x80, 2, 0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x5d, 0x28, 0x4b, 1, 0x47, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x65, 0x75, 0x2e,
    ]);
  });

  it('round-trips random JSON data (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const back = unpickle(picklePlain(v as PlainValue), { source: 'p.pkl' });
        expect(plain(back)).toEqual(plain(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('rng', () => {
  it('is deterministic per (seed, keys) and differs across keys', () => {
    const draw = (r: Rng) => Array.from({ length: 8 }, () => r.nextUint32());
    expect(draw(rngFor(2022, 'matching', 5, 'test'))).toEqual(draw(rngFor(2022, 'matching', 5, 'test')));
    expect(draw(rngFor(2022, 'matching', 5, 'test'))).not.toEqual(draw(rngFor(2022, 'matching', 5, 'val')));
    expect(draw(rngFor(2022, 'matching', 5))).not.toEqual(draw(rngFor(2023, 'matching', 5)));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
    expect(deriveSeed(1, '2')).not.toBe(deriveSeed(1, 2));
  });

  it('int(n) is uniform and in range; shuffle is a permutation', () => {
    const r = new Rng(42);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]!++;
    // Each bucket expects 10,000 with sd ~95: 5 sd is a generous bound that a biased generator would still break.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const arr = Array.from({ length: 100 }, (_, i) => i);
    const shuffled = rngFor(1, 'x').shuffle(arr.slice());
    expect(shuffled).not.toEqual(arr);
    expect(shuffled.slice().sort((a, b) => a - b)).toEqual(arr);
    expect(() => r.int(0)).toThrow(RangeError);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('gunzipOrFail', () => {
  it('reads gzip and names the file when it is truncated or corrupt', () => {
    const gz = gzipSync('hello '.repeat(1000));
    expect(gunzipOrFail(gz, 'a.gz').toString()).toBe('hello '.repeat(1000));
    expect(() => gunzipOrFail(gz.subarray(0, gz.length - 5), 'a.gz')).toThrow(/^a\.gz: gzip stream is truncated/);
    const bad = Buffer.from(gz);
    bad[12] ^= 0xff;
    bad[13] ^= 0xff;
    expect(() => gunzipOrFail(bad, 'a.gz')).toThrow(/^a\.gz: (corrupt gzip data|gzip stream is truncated)/);
  });
});
