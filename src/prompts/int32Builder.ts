/** An append-only Int32Array that doubles its capacity, so a whole example set is packed without number[] churn. */
export class Int32Builder {
  private buf: Int32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.buf = new Int32Array(Math.max(16, capacity));
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Int32Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  push(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  pushAll(values: ArrayLike<number>): void {
    this.reserve(values.length);
    for (let i = 0; i < values.length; i++) this.buf[this.length + i] = values[i]!;
    this.length += values.length;
  }

  /** A right-sized copy. */
  finish(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}
