/**
 * The one place paprec writes files. Every write:
 * - refuses targets under /proc and /sys and targets that are not regular files, before touching anything;
 * - creates missing folders one component at a time (Node's recursive mkdir can spin forever under /proc);
 * - goes to a temporary file beside the target, fsynced, then renamed over it, so the previous good file stays in
 *   place until the new one is complete, and the temporary file is removed on any failure;
 * - reports failures with the user's path (never the temporary one), and ENOSPC with the bytes it needed.
 */
import { promises as fsp, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { PaprecError } from '../errors.js';

/** Virtual file systems a result can never be written to (and where recursive mkdir hangs). */
const VIRTUAL_ROOTS = ['/proc', '/sys'];

function bytesText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A file-system error as a PaprecError naming `file` (the user's path) and what was being done. */
export function fsError(err: unknown, file: string, action: string, bytes?: number): PaprecError {
  if (err instanceof PaprecError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOSPC: `no space left on the device${bytes !== undefined ? ` (needed ${bytesText(bytes)})` : ''}`,
    EDQUOT: `disk quota exceeded${bytes !== undefined ? ` (needed ${bytesText(bytes)})` : ''}`,
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder, expected a file',
    ENOTDIR: 'a component of the path is not a folder',
    ENOENT: 'no such file or folder',
    ENAMETOOLONG: 'the name is too long',
    ELOOP: 'too many symbolic links',
    EMFILE: 'too many open files',
    EIO: 'input/output error',
    EBUSY: 'the file is busy',
  };
  const text = (code && why[code]) ?? (err as Error).message ?? String(err);
  return new PaprecError(`${file}: cannot ${action}: ${text}${code && why[code] ? ` (${code})` : ''}`, { cause: err });
}

/** Refuse paths under /proc or /sys (checked on the resolved path, before any file-system call). */
export function refuseVirtualPath(p: string, role = 'output'): void {
  const abs = path.resolve(p);
  for (const root of VIRTUAL_ROOTS) {
    if (abs === root || abs.startsWith(`${root}/`)) {
      throw new PaprecError(`${p}: cannot write ${role} under ${root} (a virtual file system, not storage)`);
    }
  }
}

/**
 * Create `dir` and its missing parents, one component at a time (no recursive mkdir). A component that exists and
 * is not a folder is reported by name. Returns the folders it created, outermost first.
 */
export async function ensureDir(dir: string): Promise<string[]> {
  refuseVirtualPath(dir);
  const abs = path.resolve(dir);
  const parts = abs.split(path.sep).filter((s) => s !== '');
  const created: string[] = [];
  let cur = path.parse(abs).root;
  for (const part of parts) {
    cur = path.join(cur, part);
    let st;
    try {
      st = await fsp.stat(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, dir, `create the folder (at ${cur})`);
    }
    if (st) {
      if (!st.isDirectory()) throw new PaprecError(`${dir}: cannot create the folder: ${cur} exists and is not a folder`);
      continue;
    }
    try {
      await fsp.mkdir(cur);
      created.push(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await fsp.stat(cur).catch(() => null))?.isDirectory()) continue; // made meanwhile
      throw fsError(err, dir, `create the folder (at ${cur})`);
    }
  }
  return created;
}

/** Refuse a target that exists and is not a regular file (a folder, a FIFO, a device, a socket). */
async function refuseNonRegular(file: string): Promise<void> {
  const st = await fsp.stat(file).catch(() => null);
  if (st && !st.isFile()) {
    const what = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new PaprecError(`${file}: cannot write: it exists and is ${what}, expected a regular file`);
  }
}

/**
 * Before long work whose result goes to `file`: refuse now what would fail at the end (a virtual file system, a
 * folder or device in the way, a parent that is a file). Creates nothing.
 */
export async function checkWritable(file: string): Promise<void> {
  refuseVirtualPath(file);
  await refuseNonRegular(file);
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    const st = await fsp.stat(dir).catch(() => null);
    if (st) {
      if (!st.isDirectory()) throw new PaprecError(`${file}: cannot write: ${dir} is not a folder`);
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

let tmpCounter = 0;

/** A temporary name beside `file`, unique within this process. */
function tmpName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}-${tmpCounter++}`);
}

/**
 * Write a file atomically: a temporary file beside it, fsync, then rename over the target. On failure the temporary
 * file is removed, the previous file (if any) is untouched, and the error names `file`.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  refuseVirtualPath(file);
  await ensureDir(path.dirname(file));
  await refuseNonRegular(file);
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  const tmp = tmpName(file);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    await handle?.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fsError(err, file, 'write', bytes);
  }
}

/** Append `text` to `file` (created when missing) and fsync it; errors name `file`. */
export async function appendFileSynced(file: string, text: string): Promise<void> {
  refuseVirtualPath(file);
  await refuseNonRegular(file);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'a');
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    throw fsError(err, file, 'append to', Buffer.byteLength(text));
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Remove a file or folder tree; errors name the path. */
export async function removePath(p: string): Promise<void> {
  try {
    await fsp.rm(p, { recursive: true, force: true });
  } catch (err) {
    throw fsError(err, p, 'remove');
  }
}

/** Temporary files this module leaves behind only if the process was killed mid-write (for cleanup and tests). */
export function isTempName(name: string): boolean {
  return /\.tmp-\d+-\d+(-\d+)?$/.test(name);
}

/** Remove temporary files of writes killed mid-way (kill -9) in `dir`; a resume calls this before writing again. */
export async function removeStaleTemps(dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names) if (isTempName(n)) await fsp.rm(path.join(dir, n), { force: true }).catch(() => {});
}

/** Read a file, turning ENOENT and friends into a PaprecError that names the file and its role. */
export async function readFileOrFail(file: string, role: string, maxBytes = MAX_READ_BYTES): Promise<Buffer> {
  let size: number;
  try {
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw new PaprecError(`${file}: ${role} is a directory, expected a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof PaprecError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PaprecError(`${file}: ${role} not found`);
    throw fsError(err, file, `read ${role}`);
  }
  if (size > maxBytes) {
    throw new PaprecError(`${file}: ${role} is ${bytesText(size)}, more than the ${bytesText(maxBytes)} paprec reads into memory at once`);
  }
  try {
    return await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PaprecError(`${file}: ${role} not found`);
    if (code === 'EISDIR') throw new PaprecError(`${file}: ${role} is a directory, expected a file`);
    if (code === 'ERR_FS_FILE_TOO_LARGE' || (err as Error).message?.includes('Invalid string length')) {
      throw new PaprecError(`${file}: ${role} is ${bytesText(size)}, too large to read into memory`);
    }
    throw fsError(err, file, `read ${role}`);
  }
}

/** The largest file read whole (Node's Buffer limit is 2-4 GiB; a text file must also fit one V8 string). */
export const MAX_READ_BYTES = 2 ** 31 - 1;
/** V8's longest string (about 512 MiB of UTF-16 code units): a text read whole must be below it. */
export const MAX_TEXT_BYTES = (1 << 29) - 24;

/** Read a text file whole as UTF-8: refused with its name and size when it could not fit one JavaScript string. */
export async function readTextOrFail(file: string, role: string): Promise<string> {
  return (await readFileOrFail(file, role, MAX_TEXT_BYTES)).toString('utf8');
}

/** Bytes about to become one string (a decompressed file): refused with the file's name and size when too large. */
export function checkTextSize(bytes: Uint8Array, file: string, role: string): void {
  if (bytes.length > MAX_TEXT_BYTES) {
    throw new PaprecError(`${file}: ${role} is ${bytesText(bytes.length)} of text, more than the ${bytesText(MAX_TEXT_BYTES)} paprec reads into memory at once`);
  }
}

export function exists(file: string): boolean {
  return existsSync(file);
}

/** Whether `p` is an existing folder (sync: for quick checks before any work). */
export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
