// src/dist without the addon: the torchrun environment, user sharding and the gather back into one-process order
// (against a fake group that concatenates what each simulated rank sends), and `paprec launch`'s failure reports.
import { describe, expect, it } from 'vitest';
import { distEnv, rankDevice } from '../../src/dist/env.js';
import { gatherRows, gatherUsers, localAssignment, localExampleSet, rankUsers, shardRows } from '../../src/dist/shard.js';
import { launch } from '../../src/dist/launch.js';
import type { ProcessGroup } from '../../src/dist/group.js';
import type { ExampleSet } from '../../src/types.js';

describe('distEnv', () => {
  it('reads torchrun variables, with its defaults', () => {
    expect(distEnv({})).toBeUndefined();
    expect(distEnv({ WORLD_SIZE: '1', RANK: '0' })).toBeUndefined();
    expect(distEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_WORLD_SIZE: '2' })).toEqual({
      rank: 3, world: 4, localRank: 1, localWorld: 2, masterAddr: '127.0.0.1', masterPort: 29500, timeoutMs: 1_800_000,
    });
    expect(distEnv({ WORLD_SIZE: '2', RANK: '1', LOCAL_RANK: '0', MASTER_ADDR: 'node0', MASTER_PORT: '1234', PAPREC_DIST_TIMEOUT: '2.5', PAPREC_DIST_BACKEND: 'nccl' }))
      .toEqual({ rank: 1, world: 2, localRank: 0, localWorld: 2, masterAddr: 'node0', masterPort: 1234, timeoutMs: 2500, backend: 'nccl' });
  });

  it('refuses what it cannot use, naming the variable', () => {
    expect(() => distEnv({ WORLD_SIZE: '2' })).toThrow(/RANK is not set/);
    expect(() => distEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(/RANK="2": expected an integer in 0..1/);
    expect(() => distEnv({ WORLD_SIZE: 'two', RANK: '0' })).toThrow(/WORLD_SIZE="two"/);
    expect(() => distEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '70000' })).toThrow(/MASTER_PORT="70000"/);
    expect(() => distEnv({ WORLD_SIZE: '2', RANK: '0', PAPREC_DIST_TIMEOUT: '0' })).toThrow(/PAPREC_DIST_TIMEOUT/);
    expect(() => distEnv({ WORLD_SIZE: '2', RANK: '0', PAPREC_DIST_BACKEND: 'mpi' })).toThrow(/expected gloo or nccl/);
  });

  it('one GPU per local rank', () => {
    const env = distEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_WORLD_SIZE: '2' });
    expect(rankDevice('cuda', env, 2)).toBe('cuda:1');
    expect(rankDevice('auto', env, 2)).toBe('cuda:1');
    expect(rankDevice('auto', env, 0)).toBe('auto');
    expect(rankDevice('cpu', env, 2)).toBe('cpu');
    expect(rankDevice('cuda', undefined, 2)).toBe('cuda');
    expect(() => rankDevice('cuda', env, 1)).toThrow(/LOCAL_RANK 1 but this node has 1 CUDA device/);
  });
});

/** W simulated ranks behind one fake group: allGather concatenates what every rank sent (rank order). */
async function simulate<T>(world: number, body: (group: ProcessGroup) => Promise<T>): Promise<T[]> {
  const sent: Array<Int32Array | Float32Array> = [];
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  const group = (rank: number) => ({
    rank,
    world,
    allGather: async (v: Int32Array | Float32Array) => {
      sent[rank] = v;
      if (sent.filter(Boolean).length === world) release();
      await all;
      const out = new (v.constructor as Int32ArrayConstructor)(world * v.length);
      sent.forEach((s, r) => out.set(s as Int32Array, r * v.length));
      return out;
    },
  }) as unknown as ProcessGroup;
  return Promise.all(Array.from({ length: world }, (_, r) => body(group(r))));
}

describe('user sharding', () => {
  const userIndex = Int32Array.from([0, 1, 2, 0, 3, 4, 1, 2]); // 5 users, 8 rows

  it('rows follow their user: user u on rank u mod world', () => {
    const s = shardRows(userIndex, 2, 1);
    expect(s.rows.map((r) => [...r])).toEqual([[0, 2, 3, 5, 7], [1, 4, 6]]);
    expect([...rankUsers(5, 2, 0)]).toEqual([0, 2, 4]);
    expect([...rankUsers(5, 2, 1)]).toEqual([1, 3]);
  });

  it('a local set renumbers its users to the rank\'s table, and assignments follow', () => {
    const set = {
      task: 'sequential', split: 'val', size: 8, numTaskSlots: 1, hasUserSlot: true, numUsers: 5, userIndex,
      inputIds: Int32Array.from({ length: 16 }, (_, i) => 10 + i), inputOffsets: Int32Array.from({ length: 9 }, (_, i) => 2 * i),
      wholeWordIds: new Int32Array(16), slotPositions: Int32Array.from({ length: 16 }, () => 0),
      targetIds: Int32Array.from({ length: 8 }, (_, i) => 100 + i), targetOffsets: Int32Array.from({ length: 9 }, (_, i) => i),
    } as unknown as ExampleSet;
    const local = localExampleSet(set, shardRows(userIndex, 2, 1));
    expect(local.size).toBe(3);
    expect(local.numUsers).toBe(2);
    expect([...local.userIndex]).toEqual([0, 1, 0]); // users 1, 3, 1 -> local 0, 1, 0
    expect([...local.targetIds]).toEqual([101, 104, 106]);
    const a = localAssignment({ taskTokens: Int32Array.of(7), userTokens: Int32Array.of(50, 51, 52, 53, 54) }, rankUsers(5, 2, 1));
    expect([...a.userTokens!]).toEqual([51, 53]);
  });

  it('gatherRows puts every rank\'s rows back in the one-process order, for each pass', async () => {
    const world = 3;
    const out = await simulate(world, async (g) => {
      const shard = shardRows(userIndex, world, g.rank);
      // pass c, row r, value j: 1000c + 10r + j (2 values per row)
      const local = [0, 1].map((c) => Int32Array.from([...shard.rows[g.rank]!].flatMap((r) => [1000 * c + 10 * r, 1000 * c + 10 * r + 1])));
      return gatherRows(g, shard, local, 2);
    });
    const want = [0, 1].map((c) => [...userIndex].flatMap((_, r) => [1000 * c + 10 * r, 1000 * c + 10 * r + 1]));
    for (const got of out) expect(got.map((v) => [...v])).toEqual(want);
  });

  it('gatherUsers: per-user values back in user order, Float32 rows too', async () => {
    const out = await simulate(2, (g) => gatherUsers(g, 5, Int32Array.from(rankUsers(5, 2, g.rank), (u) => 100 + u), 1));
    for (const got of out) expect([...got]).toEqual([100, 101, 102, 103, 104]);
    const f = await simulate(2, (g) => gatherRows(g, shardRows(userIndex, 2, g.rank), [Float32Array.from(shardRows(userIndex, 2, g.rank).rows[g.rank]!, (r) => r / 4)], 1));
    expect([...f[0]![0]!]).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]);
  });
});

describe('paprec launch', () => {
  const node = (code: string) => [process.execPath, '-e', code];
  const quiet = { log: (l: string) => lines.push(l) };
  const lines: string[] = [];

  it('gives each worker the torchrun environment and the cores split', async () => {
    lines.length = 0;
    const r = await launch({ nproc: 2, masterPort: 29555, command: node(`const e = process.env; if (e.WORLD_SIZE !== '2' || e.LOCAL_RANK !== e.RANK || e.MASTER_PORT !== '29555' || !(Number(e.PAPREC_THREADS) >= 1)) process.exit(9)`), ...quiet });
    expect(r).toEqual({ code: 0 });
  });

  it('a worker that fails: its code, its rank named; the others stopped after the grace period', async () => {
    lines.length = 0;
    const started = Date.now();
    const r = await launch({ nproc: 2, graceMs: 500, command: node(`if (process.env.RANK === '1') process.exit(7); setTimeout(() => {}, 60000)`), ...quiet });
    expect(r.code).toBe(7);
    expect(r.failed).toMatchObject({ rank: 1, how: 'exited with code 7' });
    expect(lines.join('\n')).toMatch(/rank 1 \(pid \d+\) exited with code 7; the other ranks get 0.5 s to stop/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a worker killed by a signal exits the launcher with 128 + its number', async () => {
    lines.length = 0;
    const r = await launch({ nproc: 2, graceMs: 500, command: node(`if (process.env.RANK === '0') process.kill(process.pid, 'SIGKILL'); setTimeout(() => {}, 60000)`), ...quiet });
    expect(r.code).toBe(137);
    expect(r.failed).toMatchObject({ rank: 0, how: 'was killed by SIGKILL' });
  });

  it('refuses bad counts and a missing command', async () => {
    await expect(launch({ nproc: 0, command: ['x'] })).rejects.toThrow(/--nproc must be an integer in 1..4096, got 0/);
    await expect(launch({ nproc: 2, nnodes: 2, nodeRank: 2, command: ['x'] })).rejects.toThrow(/--node-rank must be an integer in 0..1/);
    await expect(launch({ nproc: 2, command: [] })).rejects.toThrow(/no command after `--`/);
  });
});
