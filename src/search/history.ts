/**
 * history.jsonl: one JSON line per round, appended and fsynced before the round's state is saved. state.json
 * records how many lines belong to committed rounds, so after a kill -9 between the two writes, resume drops the
 * half-committed line and redoes that round.
 */
import { promises as fsp } from 'node:fs';
import type { Placement } from '../prompts/types.js';

export interface CandidateRecord {
  id: number;
  text: string;
  score: number;
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
  best: number;
  /** Seconds the round took. */
  time: number;
}

export async function appendHistory(file: string, record: HistoryRecord): Promise<void> {
  const handle = await fsp.open(file, 'a');
  try {
    await handle.writeFile(`${JSON.stringify(record)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
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

/** Keep the first `lines` records (the committed ones). */
export async function truncateHistory(file: string, lines: number): Promise<void> {
  const records = await readHistory(file);
  if (records.length === lines) return;
  const kept = records.slice(0, lines);
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await fsp.rename(tmp, file);
}
