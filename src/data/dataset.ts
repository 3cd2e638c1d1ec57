import * as path from 'node:path';
import { fail, PaprecError } from '../errors.js';
import type { Dataset, DatasetStats, Review, Split } from '../types.js';
import { exists, readFileOrFail, readTextOrFail } from '../util/fs.js';
import { parseDatamaps, type Datamaps } from './datamaps.js';
import { parseExplanationSplits } from './explanations.js';
import { parseMeta } from './meta.js';
import { NegativeSampler, NUM_NEGATIVES, parseNegatives } from './negatives.js';
import { parseSequentialData } from './sequential.js';
import { computeStats } from './stats.js';

/** P5's seed (its scripts run with --seed 2022). */
export const DEFAULT_SEED = 2022;

export interface LoadDatasetOptions {
  /** Seeds generated negatives and every split's random choices. Default 2022. */
  seed?: number;
  /** Keep only users 1..maxUsers (quick runs). Items keep their full id range. */
  maxUsers?: number;
  /** Called with each non-fatal note: generated negatives, skipped records (with counts). */
  onWarning?: (message: string) => void;
}

/** A loaded P5 folder: the `Dataset` contract plus what was read, for tools that need the raw ids. */
export interface P5Dataset extends Dataset {
  readonly datamaps: Datamaps;
  /** Whether negative_samples.txt was read (false: generated from the seed). */
  readonly negativesFromFile: boolean;
  /** The non-fatal notes also passed to onWarning. */
  readonly warnings: readonly string[];
}

export const FILES = {
  sequential: 'sequential_data.txt',
  datamaps: 'datamaps.json',
  negatives: 'negative_samples.txt',
  explanations: 'exp_splits.pkl',
  meta: 'meta.json.gz',
} as const;

/**
 * Read a P5 data folder (REFERENCE.md §2). Required: sequential_data.txt and datamaps.json. Optional:
 * negative_samples.txt (generated when absent: 99 seeded uniform negatives per user, reported through onWarning),
 * exp_splits.pkl (explanation reviews) and meta.json.gz (item titles).
 *
 * Bad input is a PaprecError naming file and line: non-integer / empty / zero ids, a repeated user, a sequence
 * shorter than 3, a user or item id missing from datamaps, users not numbered 1..n. Records that can be dropped
 * without changing anyone else's data (negatives the user touched, reviews of unknown ids, meta lines of other items)
 * are skipped and counted in one warning per file.
 */
export async function loadDataset(dir: string, opts: LoadDatasetOptions = {}): Promise<P5Dataset> {
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed)) throw new PaprecError(`loadDataset: seed must be an integer, got ${seed}`);
  if (opts.maxUsers !== undefined && (!Number.isInteger(opts.maxUsers) || opts.maxUsers < 1)) {
    throw new PaprecError(`loadDataset: maxUsers must be a positive integer, got ${opts.maxUsers}`);
  }
  const warnings: string[] = [];
  const warn = (msg: string) => {
    warnings.push(msg);
    opts.onWarning?.(msg);
  };
  const file = (name: string) => path.join(dir, name);

  const mapsFile = file(FILES.datamaps);
  const maps = parseDatamaps(await readTextOrFail(mapsFile, 'P5 datamaps'), mapsFile);

  const seqFile = file(FILES.sequential);
  const rows = parseSequentialData(await readTextOrFail(seqFile, 'P5 sequential data'), seqFile, {
    maxUsers: opts.maxUsers,
  });
  if (rows.length === 0) fail(seqFile, 'no users (the file is empty)');

  // Every id must be known to datamaps: an unknown id means the two files come from different cuts of the data.
  for (const row of rows) {
    if (!maps.id2user.has(row.user)) fail(`${seqFile}:${row.line}`, `user ${row.user} is not in ${FILES.datamaps} (id2user / user2id)`);
    for (let i = 0; i < row.items.length; i++) {
      const item = row.items[i] as number;
      if (!maps.id2item.has(item)) fail(`${seqFile}:${row.line}`, `item ${item} at field ${i + 2} is not in ${FILES.datamaps} (id2item / item2id)`);
    }
  }

  // Users must be 1..n: users[u - 1] is user u, and per-user prompt tokens are indexed the same way.
  rows.sort((a, b) => a.user - b.user);
  rows.forEach((row, i) => {
    if (row.user !== i + 1) fail(seqFile, `user ${i + 1} has no line (users must be numbered 1..n without gaps; line ${row.line} holds user ${row.user})`);
  });
  const users = rows.map((r) => ({ id: r.user, items: r.items as readonly number[] }));

  let numItems = 0;
  for (const id of maps.id2item.keys()) if (id > numItems) numItems = id;

  let negatives: number[][];
  const negFile = file(FILES.negatives);
  const negativesFromFile = exists(negFile);
  if (negativesFromFile) {
    const touched = users.map((u) => new Set(u.items));
    const parsed = parseNegatives(await readTextOrFail(negFile, 'P5 negative samples'), negFile, numItems, (u) => touched[u - 1]);
    negatives = users.map((u) => {
      const negs = parsed.byUser.get(u.id);
      if (negs === undefined) fail(negFile, `no line for user ${u.id}`);
      return negs;
    });
    if (parsed.droppedTouched > 0) {
      warn(`${negFile}: dropped ${parsed.droppedTouched} negative(s) that the user interacted with or that repeat on the line`);
    }
  } else {
    const sampler = new NegativeSampler(seed, numItems);
    negatives = users.map((u) => sampler.sample(u.id, u.items, NUM_NEGATIVES));
    warn(`${negFile} not found: generated ${NUM_NEGATIVES} uniform negatives per user from items the user never touched (seed ${seed})`);
  }

  let reviews: Record<Split, Review[]> | undefined;
  const expFile = file(FILES.explanations);
  if (exists(expFile)) {
    const load = parseExplanationSplits(await readFileOrFail(expFile, 'P5 explanation splits'), expFile, maps, users.length);
    reviews = load.reviews;
    if (load.unknownIds > 0) warn(`${expFile}: skipped ${load.unknownIds} review(s) whose reviewerID or asin is not in ${FILES.datamaps}`);
  }

  let titles: Map<number, string> | undefined;
  const metaFile = file(FILES.meta);
  if (exists(metaFile)) {
    titles = parseMeta(await readFileOrFail(metaFile, 'Amazon item metadata'), metaFile, maps.item2id).titles;
  }

  let stats: DatasetStats | undefined;
  const dataset: P5Dataset = {
    dir,
    name: path.basename(path.resolve(dir)),
    users,
    numItems,
    negatives,
    seed,
    datamaps: maps,
    negativesFromFile,
    warnings,
    stats: () => (stats ??= computeStats(users)),
    ...(titles ? { titles } : {}),
    ...(reviews ? { reviews } : {}),
  };
  return dataset;
}
