import { PaprecError } from '../errors.js';
import type { Review, Split } from '../types.js';
import { unpickle } from '../checkpoint/pickle.js';
import type { Datamaps } from './datamaps.js';

/** Field access on an unpickled dict, whichever JS shape the reader chose (plain object or Map). */
function field(obj: unknown, key: string): unknown {
  if (obj instanceof Map) return obj.get(key);
  if (typeof obj === 'object' && obj !== null && !Array.isArray(obj)) return (obj as Record<string, unknown>)[key];
  return undefined;
}

function isDict(obj: unknown): boolean {
  return obj instanceof Map || (typeof obj === 'object' && obj !== null && !Array.isArray(obj) && !ArrayBuffer.isView(obj));
}

export interface ExplanationLoad {
  reviews: Record<Split, Review[]>;
  /** entries whose reviewerID / asin is not in datamaps */
  unknownIds: number;
  /** entries of users beyond `maxUsers` */
  outOfRange: number;
}

/**
 * Read P5's `exp_splits.pkl`: a pickled dict {'train': [...], 'val': [...], 'test': [...]} of review dicts with
 * reviewerID, asin, overall, explanation and (optional) feature. Raw ids are mapped through datamaps' user2id /
 * item2id. An entry whose raw id is not in datamaps is skipped and counted: the explanation pickles and the
 * sequential data of P5 were cut separately, so a stray review is data to ignore, not a broken file.
 * The pickle goes through the restricted reader, which refuses any class, so a crafted file cannot run code.
 */
export function parseExplanationSplits(data: Uint8Array, file: string, maps: Datamaps, numUsers: number): ExplanationLoad {
  // Protocol 2+ pickles start with PROTO (0x80); checking first turns "a text file" into a message a user can act on.
  if (data.length < 2 || data[0] !== 0x80) {
    const first = data.length === 0 ? 'the file is empty' : `first byte 0x${(data[0] as number).toString(16).padStart(2, '0')}`;
    throw new PaprecError(`${file}: not a readable Python pickle (expected protocol 2 or later, starting with byte 0x80; ${first})`);
  }
  const root = unpickle(data, { source: file });
  if (!isDict(root)) throw new PaprecError(`${file}: expected a pickled dict with keys 'train', 'val', 'test', found ${describe(root)}`);
  const reviews: Record<Split, Review[]> = { train: [], val: [], test: [] };
  let unknownIds = 0;
  let outOfRange = 0;
  for (const split of ['train', 'val', 'test'] as const) {
    const list = field(root, split);
    if (!Array.isArray(list)) throw new PaprecError(`${file}: ['${split}'] must be a list of review dicts, found ${describe(list)}`);
    list.forEach((entry: unknown, i: number) => {
      const where = `${file}: ['${split}'][${i}]`;
      if (!isDict(entry)) throw new PaprecError(`${where}: expected a review dict, found ${describe(entry)}`);
      const reviewer = field(entry, 'reviewerID');
      const asin = field(entry, 'asin');
      const overall = field(entry, 'overall');
      const explanation = field(entry, 'explanation');
      const feature = field(entry, 'feature');
      if (typeof reviewer !== 'string') throw new PaprecError(`${where}: 'reviewerID' must be a string, found ${describe(reviewer)}`);
      if (typeof asin !== 'string') throw new PaprecError(`${where}: 'asin' must be a string, found ${describe(asin)}`);
      const rating = typeof overall === 'bigint' ? Number(overall) : overall;
      if (typeof rating !== 'number' || !Number.isFinite(rating)) throw new PaprecError(`${where}: 'overall' must be a number, found ${describe(overall)}`);
      if (typeof explanation !== 'string') throw new PaprecError(`${where}: 'explanation' must be a string, found ${describe(explanation)}`);
      if (feature !== undefined && feature !== null && typeof feature !== 'string') {
        throw new PaprecError(`${where}: 'feature' must be a string, found ${describe(feature)}`);
      }
      const user = maps.user2id.get(reviewer);
      const item = maps.item2id.get(asin);
      if (user === undefined || item === undefined) {
        unknownIds++;
        return;
      }
      if (user > numUsers) {
        outOfRange++;
        return;
      }
      const review: Review = { user, item, rating, explanation };
      if (typeof feature === 'string') review.feature = feature;
      reviews[split].push(review);
    });
  }
  return { reviews, unknownIds, outOfRange };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Map) return 'a dict';
  if (typeof v === 'object') return 'a dict';
  return `${typeof v} ${JSON.stringify(String(v)).slice(0, 40)}`;
}
