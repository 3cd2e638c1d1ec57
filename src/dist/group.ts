/**
 * ProcessGroup: one c10d process group (native/dist) for the whole run. Its collectives are issued one at a time in
 * call order, since every rank must issue the same ones in the same order. A failed collective (a rank died, the
 * network went, the timeout passed) is explained once: the ranks still alive answer a roll call through the
 * rendezvous store, and the error names the ranks that did not.
 */
import { PaprecError } from '../errors.js';
import { native, type CollectiveArray, type NativeProcessGroup } from '../native.js';
import type { DistEnv } from './env.js';

/** What the native group's collectives say when they fail (native/dist/group.cc). */
const COLLECTIVE_FAILURE = /(all-reduce|all-gather|broadcast|barrier) on rank \d+ of \d+ failed/;

/** Seconds the survivors of a failure wait for each other's answers. */
const ROLL_CALL_MS = 3000;

export class ProcessGroup {
  private chain: Promise<unknown> = Promise.resolve();
  private broken: PaprecError | undefined;
  private closed = false;

  private constructor(
    private readonly handle: NativeProcessGroup,
    readonly env: DistEnv,
  ) {}

  /** Rendezvous at MASTER_ADDR:MASTER_PORT and connect every rank; bounded by env.timeoutMs. */
  static async join(env: DistEnv, opts: { device?: string } = {}): Promise<ProcessGroup> {
    const addon = native();
    const built = addon.info().distBackends ?? '';
    const where = `rank ${env.rank} of ${env.world}`;
    if (built === '') {
      throw new PaprecError(
        `${where}: this paprec build has no torch.distributed (c10d) support, so it runs one process only: rebuild ` +
          `where LibTorch's c10d headers and gloo's headers are installed (Debian: apt-get install libgloo-dev; ` +
          `scripts/setup.sh does this), or unset WORLD_SIZE`,
      );
    }
    const cuda = opts.device?.startsWith('cuda') === true;
    const backend = env.backend ?? (cuda && built.includes('nccl') ? 'nccl' : 'gloo');
    if (!built.split(',').includes(backend)) throw new PaprecError(`${where}: PAPREC_DIST_BACKEND=${backend}, but this build has only ${built}`);
    const deviceIndex = cuda ? Number(opts.device!.split(':')[1] ?? env.localRank) : 0;
    try {
      const handle = await addon.connectGroup({ rank: env.rank, world: env.world, masterAddr: env.masterAddr, masterPort: env.masterPort, timeoutMs: env.timeoutMs, backend, deviceIndex });
      return new ProcessGroup(handle, env);
    } catch (err) {
      throw new PaprecError(`${where}: ${(err as Error).message}`);
    }
  }

  get rank(): number {
    return this.env.rank;
  }

  get world(): number {
    return this.env.world;
  }

  get isRoot(): boolean {
    return this.env.rank === 0;
  }

  /** The native group, for engine calls that reduce inside (slot gradients, training steps). */
  get native(): NativeProcessGroup {
    return this.handle;
  }

  private run<T>(what: string, f: () => Promise<T>): Promise<T> {
    const next = this.chain.then(async () => {
      if (this.broken) throw this.broken;
      if (this.closed) throw new PaprecError(`${what}: the process group is closed`);
      try {
        return await f();
      } catch (err) {
        throw await this.explain(err);
      }
    });
    this.chain = next.catch(() => {});
    return next;
  }

  allReduce<T extends CollectiveArray>(values: T): Promise<T> {
    return this.run('all-reduce', () => this.handle.allReduce(values));
  }

  allGather<T extends CollectiveArray>(values: T): Promise<T> {
    return this.run('all-gather', () => this.handle.allGather(values));
  }

  broadcast<T extends CollectiveArray | Uint8Array>(values: T, root = 0): Promise<T> {
    return this.run('broadcast', () => this.handle.broadcast(values, root));
  }

  barrier(): Promise<void> {
    return this.run('barrier', () => this.handle.barrier());
  }

  /** True on every rank when it is true on any (a stop asked on one rank stops all at the same round). */
  async any(flag: boolean): Promise<boolean> {
    return (await this.allReduce(Int32Array.of(flag ? 1 : 0)))[0]! > 0;
  }

  /** Root's JSON value on every rank (root passes it, the others anything). */
  async broadcastJson<T>(value: T | undefined, root = 0): Promise<T> {
    const bytes = this.rank === root ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
    const length = await this.broadcast(Int32Array.of(bytes.length), root);
    const body = await this.broadcast(this.rank === root ? bytes : new Uint8Array(length[0]!), root);
    return JSON.parse(new TextDecoder().decode(body)) as T;
  }

  /** Every rank's JSON value, in rank order (any sizes: the bytes travel padded to the longest). */
  async allGatherJson<T>(value: T): Promise<T[]> {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    const lengths = await this.allGather(Int32Array.of(bytes.length));
    const words = Math.ceil(Math.max(...lengths) / 4);
    const send = new Int32Array(words);
    new Uint8Array(send.buffer).set(bytes);
    const all = await this.allGather(send);
    return [...lengths].map((n, r) => JSON.parse(new TextDecoder().decode(new Uint8Array(all.buffer, all.byteOffset + r * words * 4, n))) as T);
  }

  /**
   * Every rank reports whether its part of `stage` worked; all go on only if every rank's did. A rank that failed
   * throws its own error; the others throw naming it.
   */
  async settle(stage: string, err?: unknown): Promise<void> {
    const flags = await this.allGather(Int32Array.of(err === undefined ? 0 : 1));
    if (err !== undefined) throw err;
    const failed = [...flags.keys()].filter((r) => flags[r] === 1);
    if (failed.length > 0) throw new PaprecError(`rank ${this.rank}: stopped because ${ranks(failed)} failed ${stage} (see ${failed.length > 1 ? 'their messages' : 'its message'})`);
  }

  /**
   * An engine error whose cause is a failed collective (here or inside a native call that reduces), with the roll
   * call's answer: which ranks are gone. Other errors come back as they are.
   */
  async explain(err: unknown): Promise<unknown> {
    if (err instanceof PaprecError && err === this.broken) return err;
    const message = (err as Error)?.message ?? String(err);
    if (!COLLECTIVE_FAILURE.test(message)) return err;
    if (!this.broken) {
      const call = await this.handle.rollCall(ROLL_CALL_MS).catch(() => ({ storeReachable: false, answered: [this.rank] }));
      const silent = [...Array(this.world).keys()].filter((r) => !call.answered.includes(r));
      const { masterAddr, masterPort } = this.env;
      const who = !call.storeReachable
        ? `rank 0, which holds the rendezvous store at ${masterAddr}:${masterPort}, is gone (it died or was stopped)`
        : silent.length > 0
          ? `${ranks(silent)} did not answer within ${ROLL_CALL_MS / 1000} s: ${silent.length > 1 ? 'they' : 'it'} died or hung`
          : 'every rank still answers (a network fault or a timeout; PAPREC_DIST_TIMEOUT sets it)';
      this.broken = new PaprecError(`rank ${this.rank} of ${this.world}: ${who}. ${message}`);
    }
    return this.broken;
  }

  /** After the last collective: every rank reaches here before rank 0's store goes away. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.broken) await this.barrier().catch(() => {});
    this.closed = true;
    await this.handle.close();
  }
}

function ranks(list: number[]): string {
  return list.length === 1 ? `rank ${list[0]}` : `ranks ${list.join(', ')}`;
}
