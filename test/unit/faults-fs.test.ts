// Fault suite, file-system half (no addon): the one write helper, the output-folder lock, and the faults a disk can
// throw at them: /proc and /sys, a folder in the way, a read-only and a full file system (small tmpfs mounts where
// this machine allows mounting; skipped with the reason printed where it does not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PaprecError } from '../../src/errors.js';
import { appendFileSynced, checkWritable, ensureDir, isTempName, readFileOrFail, removeStaleTemps, writeFileAtomic } from '../../src/util/fs.js';
import { LOCK_FILE, lockOutputDir, userEntries } from '../../src/util/lock.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'paprec-faults-fs-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Run `body` on a fresh tmpfs of `size` (mount options `extra`, e.g. 'ro'), unmounted after; where this machine does
 * not allow mounting, the test is skipped with the reason printed.
 */
async function onTmpfs(ctx: { skip: () => void }, name: string, size: string, extra: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${extra ? `,${extra}` : ''}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`skipped: cannot mount a tmpfs here (${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})`);
    ctx.skip();
    return;
  }
  try {
    await body(dir);
  } finally {
    spawnSync('umount', [dir]);
  }
}

const noTemps = (dir: string) => expect(readdirSync(dir).filter(isTempName)).toEqual([]);

describe('writeFileAtomic', () => {
  it('writes, replaces, and leaves no temporary file', async () => {
    const f = path.join(tmp, 'a', 'b', 'c.json');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, 'two');
    expect(readFileSync(f, 'utf8')).toBe('two');
    noTemps(path.dirname(f));
  });

  it('refuses /proc and /sys at once, naming the path (Node 20 recursive mkdir spins there)', async () => {
    const started = Date.now();
    await expect(writeFileAtomic('/proc/self/paprec-out/x.json', 'x')).rejects.toThrow('/proc/self/paprec-out/x.json: cannot write output under /proc');
    await expect(ensureDir('/sys/kernel/paprec')).rejects.toThrow(/under \/sys/);
    await expect(lockOutputDir('/proc/paprec', 'test')).rejects.toThrow(/under \/proc/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('names the folder component that is a file, and a target that is a folder or a FIFO', async () => {
    const file = path.join(tmp, 'plain');
    writeFileSync(file, 'x');
    await expect(writeFileAtomic(path.join(file, 'sub', 'y.json'), 'y')).rejects.toThrow(`${file} exists and is not a folder`);
    const dirTarget = path.join(tmp, 'target-dir');
    mkdirSync(dirTarget);
    await expect(writeFileAtomic(dirTarget, 'y')).rejects.toThrow(`${dirTarget}: cannot write: it exists and is a folder`);
    const fifo = path.join(tmp, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      await expect(writeFileAtomic(fifo, 'y')).rejects.toThrow(/is a FIFO/);
      await expect(checkWritable(fifo)).rejects.toThrow(/is a FIFO/);
    }
    noTemps(tmp);
  });

  it('a full file system: names the file and the bytes needed, removes its temp file, keeps the previous file', async (ctx) => {
    await onTmpfs(ctx, 'full', '64k', '', async (dir) => {
      const f = path.join(dir, 'model.safetensors');
      await writeFileAtomic(f, 'previous good file');
      const big = new Uint8Array(2 * 1024 * 1024);
      const err = await writeFileAtomic(f, big).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PaprecError);
      expect((err as Error).message).toBe(`${f}: cannot write: no space left on the device (needed 2.0 MiB) (ENOSPC)`);
      expect(readFileSync(f, 'utf8')).toBe('previous good file');
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      await expect(appendFileSynced(path.join(dir, 'log.jsonl'), 'x'.repeat(200_000))).rejects.toThrow(/log\.jsonl: cannot append to: no space left/);
    });
  });

  it('a read-only file system is reported as read-only, naming the user path', async (ctx) => {
    await onTmpfs(ctx, 'ro', '64k', 'ro', async (dir) => {
      const f = path.join(dir, 'state.json');
      await expect(writeFileAtomic(f, '{}')).rejects.toThrow(`${f}: cannot write: the file system is read-only (EROFS)`);
      await expect(ensureDir(path.join(dir, 'out'))).rejects.toThrow(/read-only/);
      await expect(lockOutputDir(path.join(dir, 'out'), 'test')).rejects.toThrow(/read-only/);
    });
  });

  it('removes temp files of writes killed mid-way (old and new names) and nothing else', async () => {
    const d = path.join(tmp, 'stale-temps');
    mkdirSync(d);
    for (const n of ['state.json.tmp-123-1700000000000', '.state.json.tmp-9-1700000000000-3', 'state.json', 'notes.tmp']) writeFileSync(path.join(d, n), '');
    await removeStaleTemps(d);
    expect(readdirSync(d).sort()).toEqual(['notes.tmp', 'state.json']);
  });

  it('readFileOrFail refuses a file above the limit with its name and size (no V8 string-length message)', async () => {
    const f = path.join(tmp, 'big.txt');
    writeFileSync(f, 'x'.repeat(5000));
    await expect(readFileOrFail(f, 'interaction log', 4096)).rejects.toThrow(`${f}: interaction log is 4.9 KiB, more than the 4.0 KiB paprec reads into memory at once`);
  });
});

describe('output-folder lock', () => {
  it('one writer: a second lock on the folder is refused naming the holder; release frees it', async () => {
    const out = path.join(tmp, 'locked');
    const a = await lockOutputDir(out, 'paprec search -o locked');
    expect(JSON.parse(readFileSync(path.join(out, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname(), command: 'paprec search -o locked' });
    expect(await userEntries(out)).toEqual([]);
    await expect(lockOutputDir(out, 'again')).rejects.toThrow(/this process already holds the folder's lock/);
    a.release();
    expect(existsSync(path.join(out, LOCK_FILE))).toBe(false);
    expect(existsSync(out)).toBe(false); // created by the lock, left empty: removed again
  });

  it('another live process holding the folder is named (pid, host, command)', async () => {
    const out = path.join(tmp, 'live');
    mkdirSync(out);
    // A live process that is not this one: the test runner's parent.
    const holder = { pid: process.ppid, host: os.hostname(), started: '2026-01-01T00:00:00.000Z', command: 'paprec pretrain -o live' };
    writeFileSync(path.join(out, LOCK_FILE), JSON.stringify(holder));
    await expect(lockOutputDir(out, 'mine', { force: true })).rejects.toThrow(
      `${out}: another paprec run is writing to this folder (pid ${holder.pid} on ${holder.host}, started ${holder.started}: paprec pretrain -o live)`,
    );
  });

  it('a stale lock (dead pid) is reported, and taken over only with force', async () => {
    const out = path.join(tmp, 'stale');
    mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(path.join(out, LOCK_FILE), JSON.stringify({ pid: dead, host: os.hostname(), started: 'then', command: 'paprec search -o stale' }));
    await expect(lockOutputDir(out, 'mine')).rejects.toThrow(new RegExp(`stale lock .*pid ${dead} .*that process is gone.*pass --force`));
    const l = await lockOutputDir(out, 'mine', { force: true });
    expect(JSON.parse(readFileSync(l.file, 'utf8')).pid).toBe(process.pid);
    l.release();
    // An unreadable lock (a run killed while writing it) is stale too.
    writeFileSync(path.join(out, LOCK_FILE), '');
    await expect(lockOutputDir(out, 'mine')).rejects.toThrow(/stale lock .*unreadable/);
    (await lockOutputDir(out, 'mine', { force: true })).release();
  });

  it('two processes racing for one folder: exactly one wins', () => {
    const out = path.join(tmp, 'race');
    const script = [
      `import { lockOutputDir } from ${JSON.stringify(path.resolve('src/util/lock.ts'))};`,
      `try { const l = await lockOutputDir(${JSON.stringify(out)}, 'race'); process.stdout.write('won'); await new Promise((r) => setTimeout(r, 1500)); l.release(); }`,
      `catch (e) { process.stdout.write('lost: ' + e.message); }`,
    ].join('\n');
    const file = path.join(tmp, 'race.mts');
    writeFileSync(file, script);
    const run = () => spawnSync('bash', ['-c', `node --import tsx ${file} & node --import tsx ${file} & wait`], { encoding: 'utf8', timeout: 60_000 });
    const r = run();
    expect((r.stdout.match(/won/g) ?? []).length).toBe(1);
    expect(r.stdout).toMatch(/lost: .*another paprec run is writing to this folder/);
  }, 60_000);
});
