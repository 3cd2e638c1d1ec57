import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import { PaprecError } from '../errors.js';

/** Write a file atomically: a temporary file beside it, fsync, then rename over the target. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
}

/** Read a file, turning ENOENT and friends into a PaprecError that names the file and its role. */
export async function readFileOrFail(file: string, role: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PaprecError(`${file}: ${role} not found`);
    if (code === 'EISDIR') throw new PaprecError(`${file}: ${role} is a directory, expected a file`);
    throw new PaprecError(`${file}: cannot read ${role} (${code ?? String(err)})`);
  }
}

export function exists(file: string): boolean {
  return existsSync(file);
}
