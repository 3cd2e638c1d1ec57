/**
 * history.jsonl: one JSON line per round, appended and fsynced before the round's state is saved. state.json
 * records how many lines belong to committed rounds, so after a kill -9 between the two writes, resume drops the
 * half-committed line and redoes that round.
 */
import { promises as fsp } from 'node:fs';
import { fail, PaprecError } from '../errors.js';
import { appendFileSynced, writeFileAtomic } from '../util/fs.js';
import type { Placement } from '../prompts/types.js';

export interface CandidateRecord {
  id: number;
  text: string;
  score: number;
}

/**
 * One candidate of a pool's loss-ranked top k: its training loss and its place in the gradient's order (0 = first).
 * User epochs: both are means over the ranked users.
 */
export interface PoolCandidateRecord {
  id: number;
  text: string;
  loss: number;
  gradientRank: number;
}

/**
 * A round with a pool (B > k): the loss-ranked order's top k, the ones scored. User epochs: per loss rank c, `id` = -1
 * and the means over the ranked users of their c-th candidate's loss on their own training rows.
 */
export interface PoolRecord {
  /** B: gradient candidates ranked by the training loss. */
  size: number;
  top: PoolCandidateRecord[];
  /** User epochs: users ranked by their own pool rows (the others keep the gradient's order). */
  usersRanked?: number;
}

/** A task-token round (one slot, k candidates) or a user-token epoch (k candidate ranks for all users). */
export interface HistoryRecord {
  search: string;
  epoch: number;
  kind: 'start' | 'task' | 'user';
  length: number;
  placement: Placement;
  /** Task slot replaced (task rounds). */
  slot?: number;
  /** Task rounds: the k candidates; user epochs: rank c's pass, `id` = -1, `score` = the whole set's score. */
  candidates: CandidateRecord[];
  /** Score of the prompt before the round. */
  before: number;
  /** Score after the round (equal to `before` when nothing was accepted). */
  after: number;
  accepted: boolean;
  /** Task rounds: the accepted token; user epochs: how many users took a new token. */
  acceptedId?: number;
  usersAccepted?: number;
  /** Rounds with a pool of B > k candidates (SearchOptions.pool); absent = the paper's k. */
  pool?: PoolRecord;
  best: number;
  /** Seconds the round took. */
  time: number;
}

export async function appendHistory(file: string, record: HistoryRecord): Promise<void> {
  await appendFileSynced(file, `${JSON.stringify(record)}\n`);
}

export async function readHistory(file: string): Promise<HistoryRecord[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: HistoryRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as HistoryRecord);
    } catch {
      break; // a line torn by a kill mid-write: everything after it is uncommitted
    }
  }
  return out;
}

/**
 * The committed records of `file`, checked against state.json's count: every one of the first `committed` lines must
 * be a whole JSON record. A missing, torn or edited line among them is refused with its line number; lines after them
 * (a round killed between its two writes) are not committed and are ignored.
 */
export async function readCommittedHistory(file: string, committed: number): Promise<HistoryRecord[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && committed === 0) return [];
    throw new PaprecError(`${file}: cannot read the search history (${(err as NodeJS.ErrnoException).code ?? String(err)}); state.json records ${committed} rounds`);
  }
  const lines = text.split('\n');
  const out: HistoryRecord[] = [];
  for (let i = 0; i < committed; i++) {
    const line = lines[i];
    if (line === undefined || (line === '' && i === lines.length - 1)) {
      fail(file, `truncated: ${out.length} of the ${committed} rounds state.json records (the file ends at line ${i + 1})`);
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      fail(`${file}:${i + 1}`, `not a whole JSON record (torn or edited); state.json records ${committed} rounds`);
    }
    if (typeof record !== 'object' || record === null || typeof (record as HistoryRecord).search !== 'string') {
      fail(`${file}:${i + 1}`, 'not a history record (no "search" field)');
    }
    out.push(record as HistoryRecord);
  }
  return out;
}

/** Keep the first `lines` records (the committed ones); fewer than that is a damaged history, refused. */
export async function truncateHistory(file: string, lines: number): Promise<void> {
  const records = await readCommittedHistory(file, lines);
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  const kept = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  if (text === kept) return;
  await writeFileAtomic(file, kept);
}
