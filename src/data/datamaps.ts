import { PaprecError } from '../errors.js';
import { parseId } from './lines.js';

/**
 * P5's `datamaps.json`: raw ids (Amazon reviewerID / asin, Yelp ids) <-> P5's 1-based ids, kept as strings as P5
 * writes them. Some copies hold only `id2user` / `id2item`, others only `user2id` / `item2id`: either direction is
 * enough and the other is built by inverting it. Extra keys (`attribute2id`, ...) are ignored.
 */
export interface Datamaps {
  /** raw user id -> P5 user id */
  user2id: Map<string, number>;
  item2id: Map<string, number>;
  /** P5 user id -> raw user id */
  id2user: Map<number, string>;
  id2item: Map<number, string>;
}

type Role = 'user' | 'item';

function fromForward(file: string, key: string, obj: unknown): Map<string, number> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new PaprecError(`${file}: "${key}" must be an object of raw id -> P5 id`);
  const out = new Map<string, number>();
  for (const [raw, id] of Object.entries(obj as Record<string, unknown>)) {
    const n = typeof id === 'number' ? id : typeof id === 'string' ? parseId(id) : undefined;
    if (n === undefined || !Number.isInteger(n) || n < 1) throw new PaprecError(`${file}: ${key}[${JSON.stringify(raw)}] = ${JSON.stringify(id)} is not a positive integer id`);
    out.set(raw, n);
  }
  return out;
}

function fromBackward(file: string, key: string, obj: unknown): Map<number, string> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new PaprecError(`${file}: "${key}" must be an object of P5 id -> raw id`);
  const out = new Map<number, string>();
  for (const [id, raw] of Object.entries(obj as Record<string, unknown>)) {
    const n = parseId(id);
    if (n === undefined) throw new PaprecError(`${file}: ${key} key ${JSON.stringify(id)} is not a positive integer id`);
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new PaprecError(`${file}: ${key}[${id}] must be a string`);
    out.set(n, String(raw));
  }
  return out;
}

function both(file: string, json: Record<string, unknown>, role: Role): { fwd: Map<string, number>; back: Map<number, string> } {
  const fKey = `${role}2id`;
  const bKey = `id2${role}`;
  const fwd = json[fKey] !== undefined ? fromForward(file, fKey, json[fKey]) : undefined;
  const back = json[bKey] !== undefined ? fromBackward(file, bKey, json[bKey]) : undefined;
  if (fwd && back) return { fwd, back };
  if (fwd) {
    const inv = new Map<number, string>();
    for (const [raw, id] of fwd) {
      const prev = inv.get(id);
      if (prev !== undefined) throw new PaprecError(`${file}: ${fKey} maps both ${JSON.stringify(prev)} and ${JSON.stringify(raw)} to ${id}`);
      inv.set(id, raw);
    }
    return { fwd, back: inv };
  }
  if (back) {
    const inv = new Map<string, number>();
    for (const [id, raw] of back) {
      const prev = inv.get(raw);
      if (prev !== undefined) throw new PaprecError(`${file}: ${bKey} maps both ${prev} and ${id} to ${JSON.stringify(raw)}`);
      inv.set(raw, id);
    }
    return { fwd: inv, back };
  }
  throw new PaprecError(`${file}: neither "${fKey}" nor "${bKey}" is present (P5 datamaps need at least one of them)`);
}

/** Parse datamaps.json text. */
export function parseDatamaps(text: string, file: string): Datamaps {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PaprecError(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PaprecError(`${file}: expected a JSON object with user2id/item2id or id2user/id2item`);
  const users = both(file, json as Record<string, unknown>, 'user');
  const items = both(file, json as Record<string, unknown>, 'item');
  return { user2id: users.fwd, id2user: users.back, item2id: items.fwd, id2item: items.back };
}

/** The JSON text P5 writes: ids as strings, all four maps. */
export function datamapsToJSON(users: readonly string[], items: readonly string[]): string {
  // Null-prototype objects: a raw id spelled "__proto__" must stay an ordinary key.
  const user2id = Object.create(null) as Record<string, string>;
  const item2id = Object.create(null) as Record<string, string>;
  const id2user = Object.create(null) as Record<string, string>;
  const id2item = Object.create(null) as Record<string, string>;
  users.forEach((raw, i) => {
    user2id[raw] = String(i + 1);
    id2user[String(i + 1)] = raw;
  });
  items.forEach((raw, i) => {
    item2id[raw] = String(i + 1);
    id2item[String(i + 1)] = raw;
  });
  return JSON.stringify({ user2id, item2id, id2user, id2item });
}
