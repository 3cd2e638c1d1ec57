/**
 * The torchrun environment: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as `torchrun`,
 * a cluster scheduler or `paprec launch` sets them. No WORLD_SIZE (or WORLD_SIZE=1) is a one-process run.
 */
import { PaprecError } from '../errors.js';

export interface DistEnv {
  rank: number;
  world: number;
  /** This rank's index among the ranks of its node: its GPU (cuda:LOCAL_RANK). */
  localRank: number;
  localWorld: number;
  masterAddr: string;
  masterPort: number;
  /** PAPREC_DIST_TIMEOUT (seconds): the rendezvous and each collective; default 1800 (torch's). */
  timeoutMs: number;
  /** PAPREC_DIST_BACKEND: gloo or nccl; undefined = nccl on CUDA where built, else gloo. */
  backend?: 'gloo' | 'nccl';
}

export const DEFAULT_MASTER_PORT = 29500;
export const DEFAULT_TIMEOUT_S = 1800;

function int(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new PaprecError(`${name} is not set: a distributed run (WORLD_SIZE=${env.WORLD_SIZE}) needs it (torchrun and paprec launch set it)`);
  }
  const v = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || v < min || v > max) throw new PaprecError(`${name}=${JSON.stringify(raw)}: expected an integer in ${min}..${max}`);
  return v;
}

/** The distributed environment of this process, or undefined for a one-process run. */
export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE.trim() === '' || env.WORLD_SIZE.trim() === '1') return undefined;
  const world = int(env, 'WORLD_SIZE', 1, 65536);
  const rank = int(env, 'RANK', 0, world - 1);
  const localWorld = int(env, 'LOCAL_WORLD_SIZE', 1, world, world);
  const localRank = int(env, 'LOCAL_RANK', 0, localWorld - 1, rank % localWorld);
  const masterAddr = (env.MASTER_ADDR ?? '127.0.0.1').trim() || '127.0.0.1';
  const masterPort = int(env, 'MASTER_PORT', 1, 65535, DEFAULT_MASTER_PORT);
  const timeoutS = env.PAPREC_DIST_TIMEOUT === undefined ? DEFAULT_TIMEOUT_S : Number(env.PAPREC_DIST_TIMEOUT);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new PaprecError(`PAPREC_DIST_TIMEOUT=${JSON.stringify(env.PAPREC_DIST_TIMEOUT)}: expected seconds > 0`);
  const backend = env.PAPREC_DIST_BACKEND;
  if (backend !== undefined && backend !== 'gloo' && backend !== 'nccl') throw new PaprecError(`PAPREC_DIST_BACKEND=${backend}: expected gloo or nccl`);
  return { rank, world, localRank, localWorld, masterAddr, masterPort, timeoutMs: Math.round(timeoutS * 1000), ...(backend ? { backend } : {}) };
}

/** The device of this rank: `cuda` (and `auto` where CUDA is there) become cuda:LOCAL_RANK; others are kept. */
export function rankDevice(device: string, env: DistEnv | undefined, cudaDevices: number): string {
  if (!env) return device;
  if (device === 'cuda' || (device === 'auto' && cudaDevices > 0)) {
    if (cudaDevices > 0 && env.localRank >= cudaDevices) {
      throw new PaprecError(`rank ${env.rank}: LOCAL_RANK ${env.localRank} but this node has ${cudaDevices} CUDA device(s): start at most ${cudaDevices} processes per node`);
    }
    return `cuda:${env.localRank}`;
  }
  return device;
}
