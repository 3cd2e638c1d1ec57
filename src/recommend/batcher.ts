/**
 * Gathers single items (requests) from many callers into batches for one native call each: a batch goes when
 * `maxBatch` items wait or `maxWaitMs` after the first one arrived, and the next one as soon as the engine is free
 * (items that arrived meanwhile go at once, up to `maxBatch`). The wait is only worth it under concurrency: while
 * the last batch carried a single item (one caller at a time, or the first request after a quiet spell), a new item
 * goes at once. One batch runs at a time: the model serialises its calls anyway, and a waiting batch keeps
 * gathering. The queue of waiting items is bounded: `submit` refuses what does not fit, all of a caller's items or
 * none.
 */

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Items that may wait (not counting the batch in flight). */
  maxQueue: number;
}

interface Entry<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  cancelled: boolean;
}

export interface Ticket<R> {
  result: Promise<R[]>;
  /** Drop the items still waiting (a timed-out or disconnected caller); items in flight finish unseen. */
  cancel(): void;
}

export class Batcher<T, R> {
  private queue: Entry<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastBatchSize = 0;
  private idleWaiters: Array<() => void> = [];
  /** Native calls made and items they carried (for the batching gain). */
  batches = 0;
  items = 0;

  constructor(
    private readonly runBatch: (items: T[]) => Promise<R[]>,
    private readonly o: BatcherOptions,
  ) {
    for (const [k, v] of Object.entries(o)) {
      if (!Number.isInteger(v) || v < (k === 'maxWaitMs' ? 0 : 1)) throw new Error(`batcher: ${k} must be a ${k === 'maxWaitMs' ? 'non-negative' : 'positive'} integer, got ${v}`);
    }
  }

  get waiting(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  submit(items: readonly T[]): Ticket<R> {
    if (this.queue.length + items.length > this.o.maxQueue) {
      throw new QueueFullError(`queue full: ${this.queue.length} waiting, room for ${this.o.maxQueue}`);
    }
    const entries: Entry<T, R>[] = [];
    const result = Promise.all(
      items.map(
        (item) =>
          new Promise<R>((resolve, reject) => {
            const e = { item, resolve, reject, cancelled: false };
            entries.push(e);
            this.queue.push(e);
          }),
      ),
    );
    this.schedule();
    return {
      result,
      cancel: () => {
        for (const e of entries) e.cancelled = true;
        this.queue = this.queue.filter((e) => !e.cancelled);
      },
    };
  }

  /** Resolves once nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.o.maxBatch || this.o.maxWaitMs === 0 || this.lastBatchSize <= 1) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.o.maxWaitMs);
    }
  }

  private async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) return;
    const batch = this.queue.splice(0, this.o.maxBatch);
    if (batch.length === 0) return this.settleIdle();
    this.running = true;
    this.lastBatchSize = batch.length;
    this.batches++;
    this.items += batch.length;
    try {
      const results = await this.runBatch(batch.map((e) => e.item));
      batch.forEach((e, i) => e.resolve(results[i]!));
    } catch (err) {
      for (const e of batch) e.reject(err);
    } finally {
      this.running = false;
    }
    // What arrived during the run has waited already: it goes now.
    if (this.queue.length > 0) void this.flush();
    else this.settleIdle();
  }

  private settleIdle(): void {
    if (this.running || this.queue.length > 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
