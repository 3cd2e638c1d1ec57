/**
 * A writer for plain-data Python pickles (protocol 2), enough to produce the files P5 reads (`exp_splits.pkl`) and
 * the test inputs of the pickle reader. It writes only data opcodes, never a GLOBAL, so what it writes loads in
 * Python with `pickle.load` and in paprec's restricted unpickler alike.
 *
 * JS -> Python: null -> None, boolean -> bool, integer number / bigint -> int, other number -> float, string -> str,
 * array -> list, PyTuple -> tuple, PyFloat -> float (for integral floats such as a 5.0 rating),
 * Uint8Array -> bytes (protocol-3 opcode; Python reads it whatever the header says), plain object / Map -> dict.
 */

/** Wrap items to write a Python tuple instead of a list. */
export class PyTuple {
  readonly items: readonly PlainValue[];
  constructor(...items: PlainValue[]) {
    this.items = items;
  }
}

/** Wrap a number to write it as a Python float even when integral (`5` -> `5.0`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PlainValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyTuple
  | PyFloat
  | readonly PlainValue[]
  | ReadonlyMap<PlainValue, PlainValue>
  | { readonly [key: string]: PlainValue };

const OP = {
  PROTO: 0x80,
  STOP: 0x2e, // .
  MARK: 0x28, // (
  NONE: 0x4e, // N
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  LONG1: 0x8a,
  BINFLOAT: 0x47, // G
  BINUNICODE: 0x58, // X
  SHORT_BINBYTES: 0x43, // C
  BINBYTES: 0x42, // B
  EMPTY_LIST: 0x5d, // ]
  APPENDS: 0x65, // e
  EMPTY_DICT: 0x7d, // }
  SETITEMS: 0x75, // u
  EMPTY_TUPLE: 0x29, // )
  TUPLE: 0x74, // t
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
} as const;

/** Python's pickler batches APPENDS / SETITEMS by 1000; so do we, to keep the reader's stack small. */
const BATCH = 1000;

class ByteSink {
  private buf = new Uint8Array(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u32le(n: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    this.bytes(b);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const utf8 = new TextEncoder();

/** Two's-complement little-endian bytes of a bigint, minimal length (Python's LONG1 encoding). */
function longBytes(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  for (;;) {
    const byte = Number(BigInt.asUintN(8, x));
    out.push(byte);
    x >>= 8n;
    const signBit = (byte & 0x80) !== 0;
    if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
  }
  return Uint8Array.from(out);
}

function writeInt(sink: ByteSink, v: bigint): void {
  if (v >= 0n && v < 256n) {
    sink.byte(OP.BININT1);
    sink.byte(Number(v));
  } else if (v >= 0n && v < 65536n) {
    sink.byte(OP.BININT2);
    sink.byte(Number(v & 0xffn));
    sink.byte(Number(v >> 8n));
  } else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
    sink.byte(OP.BININT);
    sink.u32le(Number(BigInt.asUintN(32, v)));
  } else {
    const b = longBytes(v);
    if (b.length > 255) throw new RangeError('picklePlain: integer too large (more than 255 bytes)');
    sink.byte(OP.LONG1);
    sink.byte(b.length);
    sink.bytes(b);
  }
}

function writeFloat(sink: ByteSink, v: number): void {
  sink.byte(OP.BINFLOAT);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, false); // big-endian, as pickle's BINFLOAT
  sink.bytes(b);
}

function write(sink: ByteSink, v: PlainValue, depth: number): void {
  if (depth > 500) throw new RangeError('picklePlain: value nested more than 500 deep (or cyclic)');
  if (v === null || v === undefined) return sink.byte(OP.NONE);
  if (v === true) return sink.byte(OP.NEWTRUE);
  if (v === false) return sink.byte(OP.NEWFALSE);
  if (typeof v === 'bigint') return writeInt(sink, v);
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) return writeInt(sink, BigInt(v));
    return writeFloat(sink, v);
  }
  if (v instanceof PyFloat) return writeFloat(sink, v.value);
  if (typeof v === 'string') {
    const b = utf8.encode(v);
    sink.byte(OP.BINUNICODE);
    sink.u32le(b.length);
    return sink.bytes(b);
  }
  if (v instanceof Uint8Array) {
    if (v.length < 256) {
      sink.byte(OP.SHORT_BINBYTES);
      sink.byte(v.length);
    } else {
      sink.byte(OP.BINBYTES);
      sink.u32le(v.length);
    }
    return sink.bytes(v);
  }
  if (v instanceof PyTuple) {
    const n = v.items.length;
    if (n === 0) return sink.byte(OP.EMPTY_TUPLE);
    if (n > 3) sink.byte(OP.MARK);
    for (const item of v.items) write(sink, item, depth + 1);
    return sink.byte(n === 1 ? OP.TUPLE1 : n === 2 ? OP.TUPLE2 : n === 3 ? OP.TUPLE3 : OP.TUPLE);
  }
  if (Array.isArray(v)) {
    sink.byte(OP.EMPTY_LIST);
    const arr = v as readonly PlainValue[];
    for (let start = 0; start < arr.length; start += BATCH) {
      sink.byte(OP.MARK);
      for (let i = start; i < Math.min(arr.length, start + BATCH); i++) write(sink, arr[i], depth + 1);
      sink.byte(OP.APPENDS);
    }
    return;
  }
  const entries: [PlainValue, PlainValue][] =
    v instanceof Map ? [...(v as ReadonlyMap<PlainValue, PlainValue>).entries()] : Object.entries(v as Record<string, PlainValue>);
  sink.byte(OP.EMPTY_DICT);
  for (let start = 0; start < entries.length; start += BATCH) {
    sink.byte(OP.MARK);
    for (let i = start; i < Math.min(entries.length, start + BATCH); i++) {
      const [key, value] = entries[i] as [PlainValue, PlainValue];
      write(sink, key, depth + 1);
      write(sink, value, depth + 1);
    }
    sink.byte(OP.SETITEMS);
  }
}

/** Pickle a plain JS value (protocol 2, no memo, no globals). */
export function picklePlain(value: PlainValue): Uint8Array {
  const sink = new ByteSink();
  sink.byte(OP.PROTO);
  sink.byte(2);
  write(sink, value, 0);
  sink.byte(OP.STOP);
  return sink.result();
}
