// The serve batcher: batches by size and by time, one batch at a time, bounded queue, cancellation, errors.
import { describe, expect, it } from 'vitest';
import { Batcher, QueueFullError } from '../../src/recommend/batcher.js';

/** A run function that records its batches and resolves when told. */
function recorder() {
  const batches: number[][] = [];
  const pending: Array<() => void> = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve) => {
      batches.push(items);
      pending.push(() => resolve(items.map((x) => x * 10)));
    });
  return { batches, run, release: () => pending.shift()?.() };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('Batcher', () => {
  it('what waits while the engine is busy goes as soon as it is free, maxBatch at a time', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 3, maxWaitMs: 30, maxQueue: 10 });
    const first = b.submit([9]);
    const t = [1, 2, 3, 4].map((x) => b.submit([x]));
    await tick();
    expect(r.batches).toEqual([[9]]);
    r.release();
    expect(await first.result).toEqual([90]);
    await tick();
    expect(r.batches).toEqual([[9], [1, 2, 3]]); // full: no wait
    r.release();
    expect(await t[0]!.result).toEqual([10]);
    await tick();
    expect(r.batches).toEqual([[9], [1, 2, 3], [4]]); // it arrived meanwhile: no wait either
    r.release();
    expect(await t[3]!.result).toEqual([40]);
    expect(b.batches).toBe(3);
    expect(b.items).toBe(5);
  });

  it('one caller at a time goes at once; under concurrency a partial batch waits maxWaitMs for company', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 8, maxWaitMs: 40, maxQueue: 10 });
    const t0 = b.submit([0]); // quiet so far: no wait
    await tick();
    expect(r.batches).toEqual([[0]]);
    b.submit([1]);
    b.submit([2]); // arrive while the engine is busy
    r.release();
    await t0.result;
    await tick();
    expect(r.batches).toEqual([[0], [1, 2]]); // they go as soon as it is free
    r.release();
    await tick();
    // the last batch carried two: a new item now waits for company
    const t3 = b.submit([3]);
    await tick(5);
    const t4 = b.submit([4]);
    expect(r.batches).toHaveLength(2);
    await tick(60);
    expect(r.batches.at(-1)).toEqual([3, 4]);
    r.release();
    expect(await t3.result).toEqual([30]);
    expect(await t4.result).toEqual([40]);
  });

  it('keeps a caller\'s list together in order, across batches', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 2, maxWaitMs: 0, maxQueue: 10 });
    const t = b.submit([1, 2, 3]);
    await tick();
    r.release();
    await tick();
    r.release();
    expect(await t.result).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2], [3]]);
  });

  it('refuses what does not fit in the queue, all or nothing, and accepts again once it drains', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 1, maxWaitMs: 0, maxQueue: 2 });
    const first = b.submit([1]); // runs at once: not waiting
    await tick();
    b.submit([2]);
    expect(() => b.submit([3, 4])).toThrow(QueueFullError);
    expect(b.waiting).toBe(1); // the refused list left nothing behind
    b.submit([3]);
    expect(() => b.submit([4])).toThrow(/queue full: 2 waiting, room for 2/);
    r.release();
    await first.result;
    await tick();
    expect(b.waiting).toBe(1);
    expect(() => b.submit([5])).not.toThrow();
  });

  it('cancel drops waiting items; a failing batch rejects its callers only; idle() waits for the engine', async () => {
    let fail = true;
    const seen: number[][] = [];
    const b = new Batcher(
      async (items: number[]) => {
        seen.push(items);
        await tick(10);
        if (fail) throw new Error('engine down');
        return items;
      },
      { maxBatch: 1, maxWaitMs: 0, maxQueue: 5 },
    );
    const bad = b.submit([1]);
    const dropped = b.submit([2]);
    const good = b.submit([3]);
    dropped.cancel();
    await expect(bad.result).rejects.toThrow('engine down');
    fail = false;
    expect(await good.result).toEqual([3]);
    await b.idle();
    expect(seen).toEqual([[1], [3]]);
    expect(b.busy).toBe(false);
  });

  it('rejects bad settings', () => {
    expect(() => new Batcher(async (x: number[]) => x, { maxBatch: 0, maxWaitMs: 0, maxQueue: 1 })).toThrow(/maxBatch must be a positive integer/);
    expect(() => new Batcher(async (x: number[]) => x, { maxBatch: 1, maxWaitMs: -1, maxQueue: 1 })).toThrow(/maxWaitMs must be a non-negative/);
  });
});
