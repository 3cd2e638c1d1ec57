import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PaprecError } from '../errors.js';
import { ensureDir, fsError, MAX_TEXT_BYTES, readFileOrFail, refuseVirtualPath, writeFileAtomic } from '../util/fs.js';
import { DEFAULT_SEED, FILES } from './dataset.js';
import { datamapsToJSON } from './datamaps.js';
import { type Interaction, type LogFormat, parseInteractionLog } from './interactionLog.js';
import { NegativeSampler, NUM_NEGATIVES } from './negatives.js';
import { rngFor } from './rng.js';

export interface PrepareOptions {
  format: LogFormat;
  /** k of the iterative k-core (users and items with >= k interactions). Default 5, as P5's Amazon data. */
  minCount?: number;
  seed?: number;
  /** Replace a non-empty output folder. */
  overwrite?: boolean;
}

export interface PrepareResult {
  outDir: string;
  rawInteractions: number;
  rawUsers: number;
  rawItems: number;
  users: number;
  items: number;
  interactions: number;
  /** passes of the k-core filter until nothing changed */
  kcoreRounds: number;
}

export interface P5Folder {
  /** raw user ids in P5 order (index = P5 id - 1) */
  users: string[];
  items: string[];
  /** sequences[u - 1] = time-ordered P5 item ids */
  sequences: number[][];
  kcoreRounds: number;
}

/**
 * Iterative k-core: drop interactions of users or items with fewer than k interactions, repeated until stable
 * (dropping an item can push a user below k and back). Repeated (user, item) pairs count each time, as in Yelp.
 * Returns the surviving interactions in their original order and the number of passes.
 */
export function kCore(log: readonly Interaction[], k: number): { kept: Interaction[]; rounds: number } {
  let kept = log.slice();
  let rounds = 0;
  for (;;) {
    rounds++;
    const userCount = new Map<string, number>();
    const itemCount = new Map<string, number>();
    for (const x of kept) {
      userCount.set(x.user, (userCount.get(x.user) ?? 0) + 1);
      itemCount.set(x.item, (itemCount.get(x.item) ?? 0) + 1);
    }
    const next = kept.filter((x) => (userCount.get(x.user) as number) >= k && (itemCount.get(x.item) as number) >= k);
    if (next.length === kept.length) return { kept, rounds };
    kept = next;
  }
}

/**
 * Turn a k-cored log into P5's numbering: users in order of first appearance in the log, shuffled with the seed,
 * numbered from 1; each user's interactions sorted by time (stable: ties keep log order); items numbered from 1 in
 * order of first appearance walking users 1..n through their sequences.
 */
export function numberP5(kept: readonly Interaction[], seed: number): Omit<P5Folder, 'kcoreRounds'> {
  const byUser = new Map<string, Interaction[]>();
  for (const x of kept) {
    let list = byUser.get(x.user);
    if (!list) byUser.set(x.user, (list = []));
    list.push(x);
  }
  const users = rngFor(seed, 'prepare', 'users').shuffle([...byUser.keys()]);
  const itemId = new Map<string, number>();
  const items: string[] = [];
  const sequences = users.map((raw) => {
    const list = (byUser.get(raw) as Interaction[]).slice().sort((a, b) => a.timestamp - b.timestamp);
    return list.map((x) => {
      let id = itemId.get(x.item);
      if (id === undefined) {
        items.push(x.item);
        itemId.set(x.item, (id = items.length));
      }
      return id;
    });
  });
  return { users, items, sequences };
}

/** The three P5 files of a numbered folder, as text. Negatives use the same generator as loadDataset. */
export function p5Files(folder: Omit<P5Folder, 'kcoreRounds'>, seed: number): Record<string, string> {
  const seq = folder.sequences.map((items, i) => `${i + 1} ${items.join(' ')}`).join('\n') + '\n';
  const sampler = new NegativeSampler(seed, folder.items.length);
  const neg = folder.sequences.map((items, i) => [i + 1, ...sampler.sample(i + 1, items, NUM_NEGATIVES)].join(' ')).join('\n') + '\n';
  return {
    [FILES.sequential]: seq,
    [FILES.datamaps]: datamapsToJSON(folder.users, folder.items),
    [FILES.negatives]: neg,
  };
}

async function isNonEmptyDir(dir: string): Promise<boolean | 'file' | 'missing'> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) return 'file';
    return (await fsp.readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw fsError(err, dir, 'read the output folder');
  }
}

/**
 * `paprec prepare`: build a P5 folder from an interaction log. The folder is written complete into a temporary
 * sibling and renamed into place, so a crash never leaves a half-written dataset behind.
 */
export async function prepareDataset(logFile: string, outDir: string, opts: PrepareOptions): Promise<PrepareResult> {
  const k = opts.minCount ?? 5;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(k) || k < 1) throw new PaprecError(`--min-count must be a positive integer, got ${k}`);
  if (!Number.isInteger(seed)) throw new PaprecError(`--seed must be an integer, got ${seed}`);
  refuseVirtualPath(outDir);
  const state = await isNonEmptyDir(outDir);
  if (state === 'file') throw new PaprecError(`${outDir}: output exists and is not a directory`);
  if (state === true && !opts.overwrite) throw new PaprecError(`${outDir}: output folder exists and is not empty (pass --overwrite to replace it)`);

  const log = parseInteractionLog(await readFileOrFail(logFile, 'interaction log', MAX_TEXT_BYTES), logFile, opts.format);
  if (log.length === 0) throw new PaprecError(`${logFile}: no interactions`);
  const { kept, rounds } = kCore(log, k);
  if (kept.length === 0) throw new PaprecError(`${logFile}: no interactions survive the ${k}-core (lower --min-count)`);
  const folder = numberP5(kept, seed);
  const short = folder.sequences.findIndex((s) => s.length < 3);
  if (short >= 0) throw new PaprecError(`${logFile}: user ${folder.users[short]} keeps fewer than 3 interactions; use --min-count 3 or more`);
  const files = p5Files(folder, seed);

  const parent = path.dirname(path.resolve(outDir));
  await ensureDir(parent);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = path.join(parent, `.${path.basename(outDir)}.tmp-${stamp}`);
  try {
    for (const [name, text] of Object.entries(files)) await writeFileAtomic(path.join(tmp, name), text);
    if (state === true || state === false) {
      // Move the old folder aside first so the new one appears in a single rename.
      const old = path.join(parent, `.${path.basename(outDir)}.old-${stamp}`);
      await fsp.rename(outDir, old);
      try {
        await fsp.rename(tmp, outDir);
      } catch (err) {
        await fsp.rename(old, outDir);
        throw err;
      }
      await fsp.rm(old, { recursive: true, force: true });
    } else {
      await fsp.rename(tmp, outDir);
    }
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw fsError(err, outDir, 'write the data folder');
  }
  const rawUsers = new Set(log.map((x) => x.user)).size;
  const rawItems = new Set(log.map((x) => x.item)).size;
  return {
    outDir,
    rawInteractions: log.length,
    rawUsers,
    rawItems,
    users: folder.users.length,
    items: folder.items.length,
    interactions: kept.length,
    kcoreRounds: rounds,
  };
}
