import { fail, PaprecError } from '../errors.js';
import { checkTextSize } from '../util/fs.js';
import { maybeGunzip } from './gzip.js';
import { numberedLines } from './lines.js';
import { parsePythonLiteral } from './pyLiteral.js';

/** One row of an interaction log, with raw (dataset-native) ids. */
export interface Interaction {
  user: string;
  item: string;
  rating?: number;
  timestamp: number;
}

export type LogFormat = 'movielens' | 'csv' | 'amazon-json';
export const LOG_FORMATS: readonly LogFormat[] = ['movielens', 'csv', 'amazon-json'];

/**
 * Read an interaction log. Gzipped input is detected by its magic bytes.
 * - movielens: `u.data` (ml-100k: user TAB item TAB rating TAB timestamp), `ratings.dat` (ml-1m: `::`), or
 *   `ratings.csv` (ml-latest: header userId,movieId,rating,timestamp).
 * - csv: a header naming the columns (user / userId / user_id / reviewerID, item / itemId / item_id / movieId / asin,
 *   optional rating / overall, timestamp / time / unixReviewTime); fields may be double-quoted.
 * - amazon-json: one object per line with reviewerID, asin, overall, unixReviewTime (JSON, or the Python-literal
 *   lines of the older Amazon dumps).
 */
export function parseInteractionLog(data: Uint8Array, file: string, format: LogFormat): Interaction[] {
  const raw = maybeGunzip(data, file);
  checkTextSize(raw, file, 'interaction log');
  const text = raw.toString('utf8');
  switch (format) {
    case 'movielens':
      return parseMovieLens(text, file);
    case 'csv':
      return parseCsvLog(text, file);
    case 'amazon-json':
      return parseAmazonJson(text, file);
    default:
      throw new PaprecError(`unknown log format ${JSON.stringify(format)} (expected ${LOG_FORMATS.join(', ')})`);
  }
}

function parseTimestamp(field: string | undefined, where: string): number {
  const f = (field ?? '').trim();
  if (f === '') fail(where, 'empty timestamp');
  let t: number;
  if (/^-?\d+(\.\d+)?$/.test(f)) t = Number(f);
  else {
    const ms = Date.parse(f);
    if (Number.isNaN(ms)) fail(where, `timestamp ${JSON.stringify(f)} is neither a number nor a date`);
    t = ms / 1000;
  }
  return checkTimestamp(t, where, f);
}

/** Seconds since 1970: a negative (or non-finite) time is a broken export, not an interaction order. */
function checkTimestamp(t: number, where: string, text: string): number {
  if (!Number.isFinite(t) || t < 0) fail(where, `timestamp ${JSON.stringify(text)} is negative or not finite (expected seconds since 1970)`);
  return t;
}

/** Ratings are stars / scores: a negative one is a broken export. */
function checkRating(r: number, where: string, text: string): number {
  if (!Number.isFinite(r) || r < 0) fail(where, `rating ${JSON.stringify(text)} is negative or not finite (expected a score >= 0)`);
  return r;
}

function parseRating(field: string | undefined, where: string): number | undefined {
  const f = (field ?? '').trim();
  if (f === '') return undefined;
  const r = Number(f);
  if (!Number.isFinite(r)) fail(where, `rating ${JSON.stringify(f)} is not a number`);
  return checkRating(r, where, f);
}

function requireId(field: string | undefined, role: string, where: string): string {
  const f = (field ?? '').trim();
  if (f === '') fail(where, `empty ${role}`);
  return f;
}

function parseMovieLens(text: string, file: string): Interaction[] {
  const first = text.slice(0, 200).split('\n', 1)[0] ?? '';
  if (/userId/i.test(first) && first.includes(',')) return parseCsvLog(text, file);
  const sep = first.includes('::') ? '::' : /\t/;
  const out: Interaction[] = [];
  for (const [line, lineNo] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    const f = line.split(sep);
    if (f.length < 4) fail(where, `expected user, item, rating, timestamp separated by ${sep === '::' ? '"::"' : 'tabs'}, found ${f.length} field(s)`);
    out.push({
      user: requireId(f[0], 'user id', where),
      item: requireId(f[1], 'item id', where),
      rating: parseRating(f[2], where),
      timestamp: parseTimestamp(f[3], where),
    });
  }
  return out;
}

/** Split one CSV record (RFC 4180 quoting, no embedded newlines). */
export function splitCsv(line: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) fail(where, 'unterminated quoted field');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      out.push(value);
      if (i < line.length && line[i] !== ',') fail(where, `unexpected ${JSON.stringify(line[i])} after a quoted field`);
    } else {
      const end = line.indexOf(',', i);
      out.push(line.slice(i, end < 0 ? line.length : end));
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return out;
    i++; // the comma
    if (i === line.length) {
      out.push('');
      return out;
    }
  }
}

const COLUMN_ALIASES = {
  user: ['user', 'userid', 'user_id', 'reviewerid', 'uid'],
  item: ['item', 'itemid', 'item_id', 'movieid', 'asin', 'business_id', 'iid'],
  rating: ['rating', 'overall', 'stars', 'score'],
  timestamp: ['timestamp', 'time', 'unixreviewtime', 'ts', 'date'],
} as const;

function parseCsvLog(text: string, file: string): Interaction[] {
  const lines = numberedLines(text);
  let header: string[] | undefined;
  let col: Record<keyof typeof COLUMN_ALIASES, number> | undefined;
  const out: Interaction[] = [];
  for (const [line, lineNo] of lines) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    if (header === undefined) {
      header = splitCsv(line, where).map((h) => h.trim().toLowerCase());
      const find = (names: readonly string[]) => header!.findIndex((h) => names.includes(h));
      col = { user: find(COLUMN_ALIASES.user), item: find(COLUMN_ALIASES.item), rating: find(COLUMN_ALIASES.rating), timestamp: find(COLUMN_ALIASES.timestamp) };
      for (const need of ['user', 'item', 'timestamp'] as const) {
        if (col[need] < 0) {
          fail(where, `the header has no ${need} column (found ${JSON.stringify(header)}; accepted names: ${COLUMN_ALIASES[need].join(', ')})`);
        }
      }
      continue;
    }
    const f = splitCsv(line, where);
    const c = col!;
    if (f.length < header.length) fail(where, `expected ${header.length} fields as in the header, found ${f.length}`);
    out.push({
      user: requireId(f[c.user], 'user id', where),
      item: requireId(f[c.item], 'item id', where),
      rating: c.rating >= 0 ? parseRating(f[c.rating], where) : undefined,
      timestamp: parseTimestamp(f[c.timestamp], where),
    });
  }
  if (header === undefined) throw new PaprecError(`${file}: empty log (expected a header line)`);
  return out;
}

function parseAmazonJson(text: string, file: string): Interaction[] {
  const out: Interaction[] = [];
  for (const [line, lineNo] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = parsePythonLiteral(line, where);
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec) || rec instanceof Map) fail(where, 'expected an object');
    const r = rec as Record<string, unknown>;
    const user = r.reviewerID;
    const item = r.asin;
    if (typeof user !== 'string' || user === '') fail(where, "'reviewerID' must be a non-empty string");
    if (typeof item !== 'string' || item === '') fail(where, "'asin' must be a non-empty string");
    const time = r.unixReviewTime;
    if (typeof time !== 'number' || !Number.isFinite(time)) fail(where, "'unixReviewTime' must be a number");
    checkTimestamp(time, where, String(time));
    const rating = r.overall;
    if (rating !== undefined && (typeof rating !== 'number' || !Number.isFinite(rating))) fail(where, "'overall' must be a number");
    if (rating !== undefined) checkRating(rating, where, String(rating));
    out.push({ user, item, rating, timestamp: time });
  }
  return out;
}
