/**
 * The calls on one model, in order: each starts when the previous one has settled (resolved or rejected), so the
 * engine's per-model lock is never contended and the JS thread never waits on it.
 */
export class CallQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Calls queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  run<T>(f: () => Promise<T> | T): Promise<T> {
    this.pending++;
    const done = () => void this.pending--;
    const r = this.tail.then(f, f).finally(done);
    this.tail = r.catch(() => {});
    return r;
  }
}
