/**
 * Rows of token ids -> the padded, row-major batch the engine reads. Rows may be ragged: sources are right-padded
 * with pad 0 (mask 0), labels with -100 (ignored by the loss).
 */
import { PaprecError } from '../errors.js';
import type { NativeBatch } from '../native.js';

export type Rows = ReadonlyArray<ArrayLike<number>>;

/** What callers hand to `forward`, `inputGradients` and `generate`. */
export interface TokenBatch {
  inputIds: Rows;
  /** Defaults to 1 over each row's own length. */
  attentionMask?: Rows;
  wholeWordIds?: Rows;
  labels?: Rows;
}

function pad(rows: Rows, width: number, fill: number, what: string): Int32Array {
  const out = new Int32Array(rows.length * width).fill(fill);
  rows.forEach((row, b) => {
    if (row.length > width) throw new PaprecError(`${what}[${b}]: ${row.length} ids, more than the batch width ${width}`);
    for (let i = 0; i < row.length; i++) {
      const v = row[i]!;
      if (!Number.isInteger(v)) throw new PaprecError(`${what}[${b}][${i}] = ${v} is not an integer id`);
      out[b * width + i] = v;
    }
  });
  return out;
}

export function toNativeBatch(batch: TokenBatch): NativeBatch {
  const B = batch.inputIds.length;
  if (B === 0) throw new PaprecError('batch: no rows in inputIds');
  const width = Math.max(...batch.inputIds.map((r) => r.length));
  if (width === 0) throw new PaprecError('batch: every row of inputIds is empty');
  const check = (rows: Rows | undefined, what: string) => {
    if (rows && rows.length !== B) throw new PaprecError(`batch: ${what} has ${rows.length} rows, inputIds has ${B}`);
  };
  check(batch.attentionMask, 'attentionMask');
  check(batch.wholeWordIds, 'wholeWordIds');
  check(batch.labels, 'labels');
  const mask = batch.attentionMask
    ? pad(batch.attentionMask, width, 0, 'attentionMask')
    : pad(batch.inputIds.map((r) => new Int32Array(r.length).fill(1)), width, 0, 'attentionMask');
  const out: NativeBatch = {
    batchSize: B,
    sourceLength: width,
    inputIds: pad(batch.inputIds, width, 0, 'inputIds'),
    attentionMask: mask,
  };
  if (batch.wholeWordIds) out.wholeWordIds = pad(batch.wholeWordIds, width, 0, 'wholeWordIds');
  if (batch.labels) {
    const T = Math.max(...batch.labels.map((r) => r.length));
    if (T === 0) throw new PaprecError('batch: every row of labels is empty');
    out.targetLength = T;
    out.labels = pad(batch.labels, T, -100, 'labels');
  }
  return out;
}
