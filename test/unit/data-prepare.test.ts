/** `paprec prepare` (interaction log -> P5 folder) and the `paprec data stats` / `paprec prepare` commands. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { dataCommand } from '../../src/cli/data.js';
import { prepareCommand } from '../../src/cli/prepare.js';
import { loadDataset, type P5Dataset } from '../../src/data/dataset.js';
import { parseInteractionLog, type Interaction } from '../../src/data/interactionLog.js';
import { kCore, numberP5, prepareDataset, type PrepareResult } from '../../src/data/prepare.js';
import { PaprecError } from '../../src/errors.js';

const U_DATA = fileURLToPath(new URL('../../../shared/data/movielens/ml-100k/u.data', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'paprec-prepare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('prepare MovieLens-100k', () => {
  const out = path.join(root, 'ml100k');
  let result: PrepareResult;
  let ds: P5Dataset;
  let raw: { user: string; item: string; time: number }[];
  beforeAll(async () => {
    result = await prepareDataset(U_DATA, out, { format: 'movielens' });
    ds = await loadDataset(out);
    raw = readFileSync(U_DATA, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([user, item, , time]) => ({ user: user!, item: item!, time: Number(time) }));
  }, 30_000);

  it('keeps every user and the items with >= 5 ratings (users all have >= 20, so one filtering pass is final)', () => {
    // Independent of kCore: count per user / per item straight from u.data.
    const perUser = new Map<string, number>();
    const perItem = new Map<string, number>();
    for (const r of raw) {
      perUser.set(r.user, (perUser.get(r.user) ?? 0) + 1);
      perItem.set(r.item, (perItem.get(r.item) ?? 0) + 1);
    }
    expect(Math.min(...perUser.values())).toBe(20); // ml-100k's README: each user rated at least 20 movies
    const items5 = [...perItem].filter(([, n]) => n >= 5);
    const kept = items5.reduce((s, [, n]) => s + n, 0);
    // Dropping those rare items must leave every user with >= 5 ratings, or a second pass would drop users too.
    const keptPerUser = new Map<string, number>();
    const items5Set = new Set(items5.map(([i]) => i));
    for (const r of raw) if (items5Set.has(r.item)) keptPerUser.set(r.user, (keptPerUser.get(r.user) ?? 0) + 1);
    expect(Math.min(...keptPerUser.values())).toBeGreaterThanOrEqual(5);

    expect({ users: result.users, items: result.items, interactions: result.interactions }).toEqual({ users: 943, items: items5.length, interactions: kept });
    expect({ items: items5.length, interactions: kept }).toEqual({ items: 1349, interactions: 99287 });
    expect(result.kcoreRounds).toBe(2); // one pass that drops, one that finds nothing to drop
    expect(result.rawInteractions).toBe(100000);
    const s = ds.stats();
    expect({ users: s.users, items: s.items, interactions: s.interactions }).toEqual({ users: 943, items: 1349, interactions: 99287 });
    expect(s.sequenceLength.min).toBe(Math.min(...keptPerUser.values()));
  });

  it('writes sequences in time order that hold exactly each user\'s kept ratings', () => {
    const time = new Map(raw.map((r) => [`${r.user}\t${r.item}`, r.time]));
    const problems: string[] = [];
    let total = 0;
    for (const u of ds.users) {
      const rawUser = ds.datamaps.id2user.get(u.id)!;
      const times = u.items.map((i) => time.get(`${rawUser}\t${ds.datamaps.id2item.get(i)!}`));
      if (times.some((t) => t === undefined)) problems.push(`user ${u.id}: an item it never rated`);
      for (let k = 1; k < times.length; k++) if (times[k]! < times[k - 1]!) problems.push(`user ${u.id}: out of time order at ${k}`);
      total += u.items.length;
    }
    expect(problems).toEqual([]);
    expect(total).toBe(99287);
  });

  it('numbers users by a seeded shuffle and items by first appearance; output is byte-identical per seed', async () => {
    let next = 1;
    const seen = new Set<number>();
    for (const u of ds.users)
      for (const i of u.items)
        if (!seen.has(i)) {
          expect(i).toBe(next++);
          seen.add(i);
        }
    // Not the log's order of first appearance (196, 186, 22, ...): the users were shuffled.
    const firstSeen = [...new Set(raw.map((r) => r.user))];
    expect(ds.users.slice(0, 10).map((u) => ds.datamaps.id2user.get(u.id))).not.toEqual(firstSeen.slice(0, 10));

    const again = path.join(root, 'ml100k-again');
    const other = path.join(root, 'ml100k-seed7');
    await prepareDataset(U_DATA, again, { format: 'movielens' });
    await prepareDataset(U_DATA, other, { format: 'movielens', seed: 7 });
    for (const f of ['sequential_data.txt', 'datamaps.json', 'negative_samples.txt']) {
      expect(readFileSync(path.join(again, f)).equals(readFileSync(path.join(out, f)))).toBe(true);
    }
    expect(readFileSync(path.join(other, 'sequential_data.txt'), 'utf8')).not.toBe(readFileSync(path.join(out, 'sequential_data.txt'), 'utf8'));
  });

  it('writes the negatives loadDataset would generate: 99 untouched items per user', async () => {
    expect(ds.negativesFromFile).toBe(true);
    const copy = path.join(root, 'ml100k-noneg');
    mkdirSync(copy);
    for (const f of ['sequential_data.txt', 'datamaps.json']) writeFileSync(path.join(copy, f), readFileSync(path.join(out, f)));
    const regenerated = await loadDataset(copy);
    expect(regenerated.negativesFromFile).toBe(false);
    expect(regenerated.negatives).toEqual(ds.negatives);
    const bad = ds.negatives.filter((negs, i) => negs.length !== 99 || new Set(negs).size !== 99 || negs.some((n) => ds.users[i]!.items.includes(n)));
    expect(bad).toEqual([]);
  });

  it('refuses a non-empty output folder unless overwrite, and leaves no temporary files', async () => {
    await expect(prepareDataset(U_DATA, out, { format: 'movielens' })).rejects.toThrow(/output folder exists and is not empty \(pass --overwrite/);
    const r = await prepareDataset(U_DATA, out, { format: 'movielens', overwrite: true, minCount: 10 });
    expect(r.users).toBeLessThanOrEqual(943);
    expect((await loadDataset(out)).stats().interactions).toBe(r.interactions);
    const empty = path.join(root, 'empty-out');
    mkdirSync(empty);
    await prepareDataset(U_DATA, empty, { format: 'movielens', minCount: 50 });
    expect(readdirSync(empty).sort()).toEqual(['datamaps.json', 'negative_samples.txt', 'sequential_data.txt']);
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('kCore', () => {
  it('repeats until stable: removing an item can push a user below k', () => {
    const x = (user: string, item: string, timestamp = 0): Interaction => ({ user, item, timestamp });
    // k = 2. Item c has one rating -> dropped; then user B has one left -> dropped; then item b has one -> dropped.
    const log = [x('A', 'a'), x('A', 'b'), x('B', 'b'), x('B', 'c'), x('C', 'a'), x('C', 'd'), x('A', 'd')];
    const { kept, rounds } = kCore(log, 2);
    expect(kept).toEqual([x('A', 'a'), x('C', 'a'), x('C', 'd'), x('A', 'd')]);
    expect(rounds).toBe(4);
  });
});

describe('numberP5', () => {
  it('sorts each user by time, keeping log order on ties, and numbers items by first appearance', () => {
    const x = (user: string, item: string, timestamp: number): Interaction => ({ user, item, timestamp });
    const log = [x('A', 'p', 5), x('A', 'q', 3), x('A', 'r', 3), x('A', 's', 1), x('B', 'r', 0), x('B', 'q', 0)];
    const f = numberP5(log, 1);
    const seqOf = (raw: string) => f.sequences[f.users.indexOf(raw)]!.map((i) => f.items[i - 1]);
    expect(seqOf('A')).toEqual(['s', 'q', 'r', 'p']);
    expect(seqOf('B')).toEqual(['r', 'q']);
    expect(f.sequences.flat().filter((i, k, all) => all.indexOf(i) === k)).toEqual([1, 2, 3, 4]);
  });
});

describe('log formats', () => {
  const write = (name: string, data: string | Uint8Array) => {
    const f = path.join(root, name);
    writeFileSync(f, data);
    return f;
  };

  it('csv with a header, quotes, CRLF, ISO dates', async () => {
    const rows = ['user,item,rating,timestamp'];
    for (const u of ['u1', 'u2', 'u3']) for (const i of ['"i,1"', 'i2', 'i3', 'i4']) rows.push(`${u},${i},4,2020-01-0${rows.length % 9 || 1}`);
    rows.push('u1,i5,5,1000'); // epoch seconds: the earliest of u1's
    const f = write('log.csv', rows.join('\r\n') + '\r\n');
    const log = parseInteractionLog(readFileSync(f), f, 'csv');
    expect(log[0]).toEqual({ user: 'u1', item: 'i,1', rating: 4, timestamp: Date.parse('2020-01-01') / 1000 });
    const out = path.join(root, 'csv-out');
    const r = await prepareDataset(f, out, { format: 'csv', minCount: 3 });
    expect(r).toMatchObject({ users: 3, items: 4, interactions: 12 }); // i5 has 1 rating
    const ds = await loadDataset(out);
    expect(ds.users.every((u) => u.items.length === 4)).toBe(true);
  });

  it('amazon-json (gzipped, JSON and Python-literal lines)', async () => {
    const lines: string[] = [];
    let t = 1000;
    for (const u of ['A', 'B', 'C']) {
      for (const i of ['x', 'y', 'z']) {
        lines.push(
          u === 'C'
            ? `{'reviewerID': '${u}', 'asin': '${i}', 'overall': 5.0, 'unixReviewTime': ${t--}, 'reviewText': 'it\\'s ok'}`
            : JSON.stringify({ reviewerID: u, asin: i, overall: 4, unixReviewTime: t++, helpful: [0, 0] }),
        );
      }
    }
    const f = write('reviews.json.gz', gzipSync(lines.join('\n')));
    const r = await prepareDataset(f, path.join(root, 'amazon-out'), { format: 'amazon-json', minCount: 3 });
    expect(r).toMatchObject({ users: 3, items: 3, interactions: 9 });
    const ds = await loadDataset(path.join(root, 'amazon-out'));
    const c = ds.users.find((u) => ds.datamaps.id2user.get(u.id) === 'C')!;
    // C's timestamps decrease along the file, so its sequence is z, y, x.
    expect(c.items.map((i) => ds.datamaps.id2item.get(i))).toEqual(['z', 'y', 'x']);
  });

  it('bad lines are errors with file and line', () => {
    const ml = write('bad.data', '1\t2\t3\t100\n1\t2\t3\n');
    expect(() => parseInteractionLog(readFileSync(ml), ml, 'movielens')).toThrow(/bad\.data:2: expected user, item, rating, timestamp/);
    const ts = write('badts.data', '1\t2\t3\tyesterday-ish\n');
    expect(() => parseInteractionLog(readFileSync(ts), ts, 'movielens')).toThrow(/badts\.data:1: timestamp "yesterday-ish" is neither a number nor a date/);
    const csv = write('nots.csv', 'user,item,rating\n1,2,3\n');
    expect(() => parseInteractionLog(readFileSync(csv), csv, 'csv')).toThrow(/nots\.csv:1: the header has no timestamp column/);
    const js = write('bad.json', '{"reviewerID": "A", "asin": "x", "unixReviewTime": 5}\n{"reviewerID": "A", "asin": "y"}\n');
    expect(() => parseInteractionLog(readFileSync(js), js, 'amazon-json')).toThrow(/bad\.json:2: 'unixReviewTime' must be a number/);
    const empty = write('empty-id.csv', 'user,item,timestamp\n,2,3\n');
    expect(() => parseInteractionLog(readFileSync(empty), empty, 'csv')).toThrow(/empty-id\.csv:2: empty user id/);
  });

  it('too few interactions for the k-core is an error', async () => {
    const f = write('tiny.data', '1\t1\t5\t1\n1\t2\t5\t2\n');
    await expect(prepareDataset(f, path.join(root, 'tiny-out'), { format: 'movielens' })).rejects.toThrow(PaprecError);
    expect(existsSync(path.join(root, 'tiny-out'))).toBe(false);
  });
});

describe('commands', () => {
  async function run(argv: string[]): Promise<string> {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      chunks.push(String(c));
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await yargs().command(dataCommand).command(prepareCommand).strict().exitProcess(false).fail((msg, err) => {
        throw err ?? new Error(msg);
      }).parseAsync(argv);
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    return chunks.join('');
  }

  it('paprec prepare then paprec data stats --json', async () => {
    const out = path.join(root, 'cli-out');
    const text = await run(['prepare', U_DATA, '-o', out, '--format', 'movielens', '--min-count', '5', '--seed', '2022']);
    expect(text).toMatch(/943 users, 1,349 items, 99,287 interactions/);
    const json = JSON.parse(await run(['data', 'stats', out, '--json']));
    expect(json).toMatchObject({ users: 943, items: 1349, interactions: 99287, name: 'cli-out' });
    expect(json.sequenceLength.min).toBeGreaterThanOrEqual(5);
    const table = await run(['data', 'stats', out]);
    expect(table).toMatch(/users\s+943/);
    expect(table).toMatch(/interactions\s+99,287/);
  });
});
