/**
 * P5 folders written to a temp dir: bad input (issue 3 item 6) and the optional files (negatives, exp_splits.pkl,
 * meta.json.gz).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PaprecError } from '../../src/errors.js';
import { loadDataset } from '../../src/data/dataset.js';
import { explanationExamples } from '../../src/data/splits.js';
import { picklePlain, PyFloat } from '../../src/data/pickleWriter.js';

const root = mkdtempSync(path.join(tmpdir(), 'paprec-data-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const MAPS = {
  user2id: { U1: '1', U2: '2', U3: '3' },
  item2id: { I1: '1', I2: '2', I3: '3', I4: '4', I5: '5', I6: '6', I7: '7', I8: '8' },
};
const GOOD_SEQ = '1 1 2 3 4\n2 5 6 7\n3 2 4 6 8 1\n';

/** Write a fresh folder holding the given files (strings, bytes, or objects as JSON); defaults: MAPS and GOOD_SEQ. */
function mkFolder(files: Record<string, string | Uint8Array | object>): string {
  const dir = path.join(root, `case-${counter++}`);
  mkdirSync(dir, { recursive: true });
  const all = { 'datamaps.json': MAPS, 'sequential_data.txt': GOOD_SEQ, ...files };
  for (const [name, content] of Object.entries(all)) {
    writeFileSync(path.join(dir, name), typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content));
  }
  return dir;
}

async function loadError(files: Record<string, string | Uint8Array | object>): Promise<PaprecError> {
  const dir = mkFolder(files);
  try {
    await loadDataset(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(PaprecError);
    return err as PaprecError;
  }
  throw new Error('loadDataset accepted bad input');
}

describe('sequential_data.txt: bad input is an error naming file and line', () => {
  it('a non-integer item id', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 x7 6\n3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:2: item id "x7" at field 3 is not a positive integer/);
  });
  it('a non-integer user id', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 6 7\nu3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:3: user id "u3" at field 1 is not a positive integer/);
  });
  it('an empty id (two separators in a row)', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1  2 3\n2 5 6 7\n3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:1: empty item id at field 3/);
  });
  it('a zero id (P5 ids are 1-based)', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 0 6 7\n3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:2: item id "0" at field 2: ids are 1-based/);
  });
  it('a repeated user', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 6 7\n1 4 5 6\n' });
    expect(err.message).toMatch(/sequential_data\.txt:3: user 1 is repeated \(first seen on line 1\)/);
  });
  it('a sequence shorter than 3', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 6\n3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:2: user 2 has 2 item\(s\); a sequence needs at least 3/);
  });
  it('an item id missing from datamaps', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 6 9\n3 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:2: item 9 at field 4 is not in datamaps\.json/);
  });
  it('a user id missing from datamaps', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n2 5 6 7\n3 1 2 3\n4 1 2 3\n' });
    expect(err.message).toMatch(/sequential_data\.txt:4: user 4 is not in datamaps\.json/);
  });
  it('users not numbered 1..n', async () => {
    const err = await loadError({ 'sequential_data.txt': '1 1 2 3\n3 5 6 7\n' });
    expect(err.message).toMatch(/sequential_data\.txt: user 2 has no line/);
  });
  it('datamaps without user maps', async () => {
    const err = await loadError({ 'datamaps.json': { item2id: MAPS.item2id } });
    expect(err.message).toMatch(/datamaps\.json: neither "user2id" nor "id2user" is present/);
  });
  it('a missing sequential_data.txt', async () => {
    const dir = mkFolder({});
    rmSync(path.join(dir, 'sequential_data.txt'));
    await expect(loadDataset(dir)).rejects.toThrow(/sequential_data\.txt: P5 sequential data not found/);
  });
});

describe('tolerated input', () => {
  it('CRLF files, a BOM, trailing spaces and a blank last line read the same as LF', async () => {
    const lf = await loadDataset(mkFolder({}));
    const crlf = await loadDataset(mkFolder({ 'sequential_data.txt': '\ufeff' + GOOD_SEQ.replace(/\n/g, ' \r\n') + '\r\n' }));
    expect(crlf.users).toEqual(lf.users);
    expect(crlf.negatives).toEqual(lf.negatives);
    expect(lf.users[2]).toEqual({ id: 3, items: [2, 4, 6, 8, 1] });
  });

  it('datamaps with only id2user / id2item, and users listed out of order', async () => {
    const ds = await loadDataset(
      mkFolder({
        'datamaps.json': { id2user: { 1: 'U1', 2: 'U2', 3: 'U3' }, id2item: Object.fromEntries(Object.entries(MAPS.item2id).map(([k, v]) => [v, k])), attributes: {} },
        'sequential_data.txt': '3 2 4 6 8 1\n1 1 2 3 4\n2 5 6 7\n',
      }),
    );
    expect(ds.users.map((u) => u.id)).toEqual([1, 2, 3]);
    expect(ds.datamaps.user2id.get('U3')).toBe(3);
    expect(ds.numItems).toBe(8);
  });

  it('generated negatives: every untouched item when fewer than 99 exist, deterministic per seed, reported', async () => {
    const warnings: string[] = [];
    const dir = mkFolder({});
    const a = await loadDataset(dir, { onWarning: (m) => warnings.push(m) });
    const b = await loadDataset(dir);
    const c = await loadDataset(dir, { seed: 7 });
    expect(a.negatives[0]!.slice().sort()).toEqual([5, 6, 7, 8]);
    expect(a.negatives).toEqual(b.negatives);
    expect(a.negatives[2]!.slice().sort()).toEqual([3, 5, 7]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/negative_samples\.txt not found: generated 99 uniform negatives .* \(seed 2022\)/);
    expect(c.seed).toBe(7);
    expect(a.warnings).toEqual(warnings);
  });

  it('maxUsers keeps users 1..N', async () => {
    const ds = await loadDataset(mkFolder({}), { maxUsers: 2 });
    expect(ds.users.map((u) => u.id)).toEqual([1, 2]);
    expect(ds.negatives).toHaveLength(2);
    expect(ds.stats().users).toBe(2);
  });
});

describe('negative_samples.txt', () => {
  it('is read; a negative the user touched is dropped and counted', async () => {
    const warnings: string[] = [];
    const ds = await loadDataset(mkFolder({ 'negative_samples.txt': '1 5 6 7\r\n2 1 2 3\r\n3 3 5 7 6\r\n' }), { onWarning: (m) => warnings.push(m) });
    expect(ds.negativesFromFile).toBe(true);
    expect(ds.negatives).toEqual([[5, 6, 7], [1, 2, 3], [3, 5, 7]]);
    expect(warnings).toEqual([expect.stringMatching(/negative_samples\.txt: dropped 1 negative\(s\)/)]);
  });
  it('errors name file and line', async () => {
    expect((await loadError({ 'negative_samples.txt': '1 5 6 7\n2 1 b 3\n3 3 5 7\n' })).message).toMatch(
      /negative_samples\.txt:2: item id "b" at field 3 is not a positive integer/,
    );
    expect((await loadError({ 'negative_samples.txt': '1 5 6 7\n2 1 2 30\n3 3 5 7\n' })).message).toMatch(
      /negative_samples\.txt:2: item 30 at field 4 is beyond the dataset's 8 items/,
    );
    expect((await loadError({ 'negative_samples.txt': '1 5 6 7\n3 3 5 7\n' })).message).toMatch(/negative_samples\.txt: no line for user 2/);
  });
});

const EXP = {
  train: [
    { reviewerID: 'U2', asin: 'I5', overall: new PyFloat(5), explanation: 'smells great', feature: 'smell' },
    { reviewerID: 'U1', asin: 'I1', overall: new PyFloat(4), explanation: "very 'soft'", feature: 'soft' },
  ],
  val: [{ reviewerID: 'U3', asin: 'I2', overall: 3, explanation: 'ok', feature: 'price' }],
  test: [
    { reviewerID: 'NOBODY', asin: 'I2', overall: 1, explanation: 'unknown user', feature: 'none' },
    { reviewerID: 'U2', asin: 'I7', overall: 2.5, explanation: 'meh' },
  ],
};

// pickle.dumps(..., protocol=4) by CPython 3 of a dict shaped like P5's exp_splits.pkl (memo, FRAME, MEMOIZE).
const PYTHON_EXP_PICKLE =
  'gASVXgEAAAAAAAB9lCiMBXRyYWlulF2UKH2UKIwKcmV2aWV3ZXJJRJSMAlUylIwEYXNpbpSMAkkzlIwHb3ZlcmFsbJRHQBQAAAAAAACMC2V4cGxhbmF0aW9ulIwMc21lbGxzIGdyZWF0lIwHZmVhdHVyZZSMBXNtZWxslIwKcmV2aWV3VGV4dJSMAXiUdX2UKGgEjAJVMZRoBowCSTGUaAhHQBAAAAAAAABoCYwOdmVyeSAnc29mdCcgw6mUaAuMBHNvZnSUdWWMA3ZhbJRdlH2UKGgEaBBoBowCSTKUaAhHQAgAAAAAAABoCYwCb2uUaAuMBXByaWNllHVhjAR0ZXN0lF2UKH2UKGgEjAJVWJRoBmgXaAhHP/AAAAAAAABoCYwMdW5rbm93biB1c2VylGgLjARub25llHV9lChoBGgFaAaMAkk0lGgIR0AAAAAAAAAAaAmMA21laJRoC4wFY29sb3KUdWV1Lg==';
// pickle.dumps({'train': [collections.OrderedDict(a=1)], 'val': [], 'test': []}, protocol=2): names a class.
const PYTHON_CLASS_PICKLE = 'gAJ9cQAoWAUAAAB0cmFpbnEBXXECY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnEDKVJxBFgBAAAAYXEFSwFzYVgDAAAAdmFscQZdcQdYBAAAAHRlc3RxCF1xCXUu';

describe('exp_splits.pkl and meta.json.gz', () => {
  it('reviews are mapped through datamaps; unknown ids are skipped and counted; titles come from Python literals', async () => {
    const meta = [
      `{'asin': 'I5', 'title': 'Soap \\'x\\' \\u00e9', 'price': 3.5, 'categories': [['Beauty', 'Bath']], 'related': {'also_bought': ('I1', 'I2')}}`,
      `{"asin": "I1", "title": "Lotion \\"1\\"", "salesRank": {"Beauty": 12}, "imUrl": null, "x": true}`,
      `{'asin': 'OTHER', 'title': 'not in this dataset'}`,
      `{'asin': 'I2', 'price': -1e3, 'flag': None, 'ok': False}`,
    ].join('\n');
    const warnings: string[] = [];
    const ds = await loadDataset(mkFolder({ 'exp_splits.pkl': picklePlain(EXP), 'meta.json.gz': gzipSync(meta) }), {
      onWarning: (m) => warnings.push(m),
    });
    expect(ds.reviews!.train).toEqual([
      { user: 2, item: 5, rating: 5, explanation: 'smells great', feature: 'smell' },
      { user: 1, item: 1, rating: 4, explanation: "very 'soft'", feature: 'soft' },
    ]);
    expect(ds.reviews!.val).toEqual([{ user: 3, item: 2, rating: 3, explanation: 'ok', feature: 'price' }]);
    expect(ds.reviews!.test).toEqual([{ user: 2, item: 7, rating: 2.5, explanation: 'meh' }]);
    expect(warnings).toContainEqual(expect.stringMatching(/exp_splits\.pkl: skipped 1 review\(s\) whose reviewerID or asin is not in datamaps\.json/));
    expect([...ds.titles!.entries()].sort()).toEqual([
      [1, 'Lotion "1"'],
      [5, "Soap 'x' é"],
    ]);
    expect(explanationExamples(ds, 'train')[0]).toEqual({ user: 2, item: 5, rating: 5, explanation: 'smells great', feature: 'smell', title: "Soap 'x' é" });
    expect(explanationExamples(ds, 'test')[0]!.title).toBeUndefined();
  });

  it('reads a pickle written by CPython (protocol 4, memo, frames)', async () => {
    const maps = { user2id: { U1: '1', U2: '2', U3: '3' }, item2id: { I1: '1', I2: '2', I3: '3', I4: '4', I5: '5', I6: '6', I7: '7', I8: '8' } };
    const ds = await loadDataset(mkFolder({ 'datamaps.json': maps, 'exp_splits.pkl': Buffer.from(PYTHON_EXP_PICKLE, 'base64') }));
    expect(ds.reviews!.train).toEqual([
      { user: 2, item: 3, rating: 5, explanation: 'smells great', feature: 'smell' },
      { user: 1, item: 1, rating: 4, explanation: "very 'soft' é", feature: 'soft' },
    ]);
    expect(ds.reviews!.val).toEqual([{ user: 1, item: 2, rating: 3, explanation: 'ok', feature: 'price' }]);
    expect(ds.reviews!.test).toEqual([{ user: 2, item: 4, rating: 2, explanation: 'meh', feature: 'color' }]);
  });

  it('explanationExamples without exp_splits.pkl is a clear error', async () => {
    const ds = await loadDataset(mkFolder({}));
    expect(() => explanationExamples(ds, 'test')).toThrow(/has no explanation data \(exp_splits\.pkl\)/);
  });

  it('an unreadable pickle', async () => {
    const err = await loadError({ 'exp_splits.pkl': 'this is not a pickle at all' });
    expect(err.message).toMatch(/exp_splits\.pkl: not a readable Python pickle \(expected protocol 2 or later.*first byte 0x74\)/);
    expect((await loadError({ 'exp_splits.pkl': '' })).message).toMatch(/exp_splits\.pkl: not a readable Python pickle .*the file is empty/);
    const truncated = picklePlain(EXP).subarray(0, 60);
    expect((await loadError({ 'exp_splits.pkl': truncated })).message).toMatch(/exp_splits\.pkl.*(truncated|end|byte)/i);
  });

  it('a pickle that names a class is refused, naming the class', async () => {
    const err = await loadError({ 'exp_splits.pkl': Buffer.from(PYTHON_CLASS_PICKLE, 'base64') });
    expect(err.message).toMatch(/exp_splits\.pkl/);
    expect(err.message).toMatch(/collections\.OrderedDict/);
  });

  it('a pickle of the wrong shape', async () => {
    expect((await loadError({ 'exp_splits.pkl': picklePlain([1, 2]) })).message).toMatch(/exp_splits\.pkl: expected a pickled dict/);
    expect((await loadError({ 'exp_splits.pkl': picklePlain({ train: [], val: [] }) })).message).toMatch(/\['test'\] must be a list/);
    const noText = { ...EXP, val: [{ reviewerID: 'U1', asin: 'I1', overall: 3 }] };
    expect((await loadError({ 'exp_splits.pkl': picklePlain(noText) })).message).toMatch(/exp_splits\.pkl: \['val'\]\[0\]: 'explanation' must be a string/);
  });

  it('a truncated gzip', async () => {
    const gz = gzipSync(Array.from({ length: 200 }, (_, i) => `{'asin': 'I${i}', 'title': 'item ${i}'}`).join('\n'));
    const err = await loadError({ 'meta.json.gz': gz.subarray(0, gz.length - 12) });
    expect(err.message).toMatch(/meta\.json\.gz: gzip stream is truncated/);
    expect((await loadError({ 'meta.json.gz': 'plain text' })).message).toMatch(/meta\.json\.gz: not a gzip file/);
  });

  it('a meta line that is not a literal names the line and column, and is never evaluated', async () => {
    const meta = `{'asin': 'I1', 'title': 'ok'}\n{'asin': 'I2', 'title': __import__('os').system('echo pwned')}\n`;
    const err = await loadError({ 'meta.json.gz': gzipSync(meta) });
    expect(err.message).toMatch(/meta\.json\.gz:2: column 25: name "__import__" is not a literal/);
  });
});
