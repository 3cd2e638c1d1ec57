/**
 * One writer per output folder: `<out>/.paprec.lock`, created exclusively (O_EXCL) before the first write and
 * removed on exit. It records who holds it (pid, host, start time, command). A second run into the folder is refused
 * naming the holder; a lock whose pid is dead on this host (a run killed with kill -9) is stale: reported, and taken
 * over only with `force`.
 */
import { promises as fsp, rmSync, rmdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PaprecError } from '../errors.js';
import { ensureDir, fsError, refuseVirtualPath } from './fs.js';

export const LOCK_FILE = '.paprec.lock';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface OutputLock {
  readonly dir: string;
  readonly file: string;
  /** Remove the lock (and the folder, when this lock created it and nothing else was written). Idempotent. */
  release(): void;
}

function holderText(h: LockHolder | undefined): string {
  if (!h) return 'an unreadable lock (a run killed while taking it?)';
  return `pid ${h.pid} on ${h.host}, started ${h.started}: ${h.command}`;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.started === 'string' && typeof h.command === 'string') {
      return h as LockHolder;
    }
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

/** Whether `pid` is a live process on this machine (EPERM: alive, someone else's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** User entries of a folder: everything but the lock file and a racing run's private copy of it (for "is this folder empty / ours?" checks). */
export async function userEntries(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => n !== LOCK_FILE && !n.startsWith(`${LOCK_FILE}.`));
}

/**
 * Take the lock of output folder `dir` (created when missing) for `command`. Refuses when another live run holds it;
 * a stale lock (dead pid on this host, another host's, or unreadable) is taken over only when `force` is set.
 */
export async function lockOutputDir(dir: string, command: string, opts: { force?: boolean } = {}): Promise<OutputLock> {
  refuseVirtualPath(dir);
  const created = await ensureDir(dir);
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    // The holder is written to a private file first and hard-linked to the lock name: link() fails when the lock
    // exists, and a lock that exists is never seen empty or half-written by a racing run.
    const mine = path.join(dir, `${LOCK_FILE}.${process.pid}-${Date.now()}`);
    try {
      const handle = await fsp.open(mine, 'wx');
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.link(mine, file).catch(async (err: NodeJS.ErrnoException) => {
        // File systems without hard links (some FUSE / FAT mounts): an exclusive create, written in one call.
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(err.code ?? '')) throw err;
        await fsp.writeFile(file, text, { flag: 'wx' });
      });
      await fsp.rm(mine, { force: true });
      break;
    } catch (err) {
      await fsp.rm(mine, { force: true }).catch(() => {});
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        for (const d of [...created].reverse()) await fsp.rmdir(d).catch(() => {});
        throw fsError(err, dir, 'take the output folder lock');
      }
    }
    const holder = parseHolder(await fsp.readFile(file, 'utf8').catch(() => ''));
    const sameHost = holder?.host === os.hostname();
    if (holder && sameHost && holder.pid !== process.pid && alive(holder.pid)) {
      throw new PaprecError(
        `${dir}: another paprec run is writing to this folder (${holderText(holder)}); wait for it or choose another folder ` +
          `(if that pid is no paprec run, remove ${file})`,
      );
    }
    if (holder && sameHost && holder.pid === process.pid) {
      throw new PaprecError(`${dir}: this process already holds the folder's lock (${holderText(holder)})`);
    }
    const why = !holder ? holderText(holder) : sameHost ? `${holderText(holder)}; that process is gone` : `${holderText(holder)}; another host, cannot check it`;
    if (!opts.force || attempt > 0) {
      throw new PaprecError(`${dir}: stale lock ${file} (${why}); if no run is writing here, pass --force to take it over`);
    }
    process.stderr.write(`note: ${dir}: taking over a stale lock (${why})\n`);
    await fsp.rm(file, { force: true });
  }

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    try {
      rmSync(file, { force: true });
    } catch {
      // nothing more to do on the way out
    }
    // Folders this lock created and nothing else filled (a run refused before writing) are removed again.
    for (const d of [...created].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        break;
      }
    }
  };
  // process.exit (a second Ctrl-C, a reported error) and SIGTERM / SIGHUP still release; kill -9 leaves a stale lock.
  // The signal is raised again once the handlers are off, so its default action ends the process at once: an exit
  // through process.exit would first wait for the native call running on a worker thread (a whole training epoch).
  const onSignal = (signal: NodeJS.Signals) => {
    release();
    process.kill(process.pid, signal);
  };
  process.on('exit', release);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  return { dir, file, release };
}

/** Run `fn` holding the lock of `dir`; released however `fn` ends. */
export async function withOutputLock<T>(dir: string, command: string, opts: { force?: boolean }, fn: () => Promise<T>): Promise<T> {
  const lock = await lockOutputDir(dir, command, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
