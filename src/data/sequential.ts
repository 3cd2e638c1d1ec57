import { fail } from '../errors.js';
import { idProblem, numberedLines, parseId, splitFields } from './lines.js';

/** Fewest items a user may have: one history item, the validation target and the test target. */
export const MIN_SEQUENCE_LENGTH = 3;

export interface SequenceRow {
  user: number;
  items: number[];
  line: number;
}

/**
 * Parse `sequential_data.txt`: `user item item ...` per line, 1-based ids, time order.
 *
 * A sequence shorter than 3 is an error, not a skipped user: P5 numbers users 1..n and the user tokens of a
 * personalized prompt are indexed by that number, so dropping a user would leave a hole the rest of the engine
 * cannot represent, and P5 folders (5-core) never contain one. `paprec prepare` builds folders that satisfy it.
 * Whitespace-only lines are ignored (a trailing blank line is common); a repeated user is an error.
 */
export function parseSequentialData(text: string, file: string, opts: { maxUsers?: number } = {}): SequenceRow[] {
  const rows: SequenceRow[] = [];
  const seenAt = new Map<number, number>();
  for (const [line, lineNo] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    const fields = splitFields(line);
    const user = parseId(fields[0] as string);
    if (user === undefined) fail(where, idProblem(fields[0] as string, 'user id', 1));
    const prev = seenAt.get(user);
    if (prev !== undefined) fail(where, `user ${user} is repeated (first seen on line ${prev}); each user must have exactly one line`);
    seenAt.set(user, lineNo);
    const items = new Array<number>(fields.length - 1);
    for (let i = 1; i < fields.length; i++) {
      const item = parseId(fields[i] as string);
      if (item === undefined) fail(where, idProblem(fields[i] as string, 'item id', i + 1));
      items[i - 1] = item;
    }
    if (items.length < MIN_SEQUENCE_LENGTH) {
      fail(
        where,
        `user ${user} has ${items.length} item(s); a sequence needs at least ${MIN_SEQUENCE_LENGTH} ` +
          '(a test target, a validation target and one history item). Rebuild the folder with `paprec prepare --min-count 5`.',
      );
    }
    if (opts.maxUsers === undefined || user <= opts.maxUsers) rows.push({ user, items, line: lineNo });
  }
  return rows;
}
