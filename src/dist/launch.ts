/**
 * `paprec launch`: N local workers of one command, with the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT). On CPU the cores are split (PAPREC_THREADS and
 * OMP_NUM_THREADS per worker, unless set). Ctrl-C and SIGTERM are passed on to every worker. When one worker fails,
 * the others get a grace period to notice (their next collective fails) and are then stopped; the launcher exits
 * with the first failure's code, naming its rank.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaprecError } from '../errors.js';
import { DEFAULT_MASTER_PORT } from './env.js';

export interface LaunchOptions {
  nproc: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** The program and its arguments; a paprec command name (search, eval, ...) runs this paprec. */
  command: string[];
  /** Paprec command names (first word of `command` that means "this paprec"). */
  paprecCommands?: readonly string[];
  /** How to run this paprec: node's arguments before the command (default: bin/paprec.js). */
  self?: string[];
  /** Milliseconds the other workers get to exit on their own after one fails (default 30 s). */
  graceMs?: number;
  /** The workers' environment before the torchrun variables (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The launcher's own messages (default: stderr). Rank 0's output goes to this process's streams, others' to stderr, prefixed. */
  log?: (line: string) => void;
}

export interface LaunchResult {
  code: number;
  /** The first worker that failed, and how. */
  failed?: { rank: number; pid: number | undefined; how: string };
}

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'paprec.js');

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new PaprecError(`launch: ${name} must be an integer in ${min}..${max}, got ${v}`);
}

/** Lines of a worker's pipe, each prefixed with its rank. */
function prefixLines(stream: NodeJS.ReadableStream, prefix: string, write: (s: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split(/\r?\n|\r/);
    rest = parts.pop()!;
    for (const p of parts) write(`${prefix}${p}\n`);
  });
  stream.on('end', () => rest && write(`${prefix}${rest}\n`));
}

export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  const masterPort = o.masterPort ?? DEFAULT_MASTER_PORT;
  checkInt('--nproc', o.nproc, 1, 4096);
  checkInt('--nnodes', nnodes, 1, 65536);
  checkInt('--node-rank', nodeRank, 0, nnodes - 1);
  checkInt('--master-port', masterPort, 1, 65535);
  if (o.command.length === 0) throw new PaprecError('launch: no command after `--` (e.g. paprec launch --nproc 2 -- search ...)');
  const world = o.nproc * nnodes;
  const base = o.env ?? process.env;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const [program, args] = o.paprecCommands?.includes(o.command[0]!)
    ? [process.execPath, [...(o.self ?? [BIN]), ...o.command]]
    : [o.command[0]!, o.command.slice(1)];
  const threads = String(Math.max(1, Math.floor(availableParallelism() / o.nproc)));
  const children: ChildProcess[] = [];
  let failed: LaunchResult['failed'];
  let firstCode = 0;
  let killTimer: NodeJS.Timeout | undefined;
  const alive = new Set<number>();

  const stopOthers = (signal: NodeJS.Signals) => {
    for (const [i, c] of children.entries()) if (alive.has(i)) c.kill(signal);
  };
  const forward = (signal: NodeJS.Signals) => () => stopOthers(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  const done = new Promise<void>((resolve) => {
    for (let local = 0; local < o.nproc; local++) {
      const rank = nodeRank * o.nproc + local;
      const env: NodeJS.ProcessEnv = {
        ...base,
        RANK: String(rank),
        WORLD_SIZE: String(world),
        LOCAL_RANK: String(local),
        LOCAL_WORLD_SIZE: String(o.nproc),
        GROUP_RANK: String(nodeRank),
        MASTER_ADDR: o.masterAddr ?? '127.0.0.1',
        MASTER_PORT: String(masterPort),
        PAPREC_THREADS: base.PAPREC_THREADS ?? threads,
        OMP_NUM_THREADS: base.OMP_NUM_THREADS ?? base.PAPREC_THREADS ?? threads,
      };
      const child = spawn(program, args, { env, stdio: rank === 0 ? ['inherit', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
      if (rank !== 0) {
        const write = (s: string) => process.stderr.write(s);
        prefixLines(child.stdout!, `[rank ${rank}] `, write);
        prefixLines(child.stderr!, `[rank ${rank}] `, write);
      }
      children.push(child);
      alive.add(local);
      child.on('error', (err) => log(`paprec launch: rank ${rank}: could not start ${program}: ${err.message}`));
      child.on('exit', (code, signal) => {
        alive.delete(local);
        const bad = signal !== null || (code ?? 1) !== 0;
        if (bad && !failed) {
          failed = { rank, pid: child.pid, how: signal ? `was killed by ${signal}` : `exited with code ${code}` };
          firstCode = signal ? 128 + (signalNumber(signal) ?? 1) : (code ?? 1);
          if (alive.size > 0) {
            log(`paprec launch: rank ${rank} (pid ${child.pid}) ${failed.how}; the other ranks get ${(o.graceMs ?? 30000) / 1000} s to stop`);
            killTimer = setTimeout(() => {
              stopOthers('SIGTERM');
              killTimer = setTimeout(() => stopOthers('SIGKILL'), 5000);
            }, o.graceMs ?? 30000);
          }
        }
        if (alive.size === 0) resolve();
      });
    }
  });
  try {
    await done;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (failed) log(`paprec launch: failed: rank ${failed.rank} (pid ${failed.pid}) ${failed.how}`);
  return { code: failed ? firstCode : 0, ...(failed ? { failed } : {}) };
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 } as Record<string, number>)[signal];
}
