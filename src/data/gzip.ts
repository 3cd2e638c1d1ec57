import { gunzipSync } from 'node:zlib';
import { PaprecError } from '../errors.js';

/**
 * Gunzip a whole file's bytes, naming the file when the stream is damaged.
 * A truncated download is the usual cause, so the message says so instead of zlib's bare "unexpected end of file".
 */
export function gunzipOrFail(data: Uint8Array, file: string): Buffer {
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) {
    throw new PaprecError(`${file}: not a gzip file (expected the magic bytes 1f 8b at offset 0)`);
  }
  try {
    return gunzipSync(data);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(String((err as Error).message))) {
      throw new PaprecError(`${file}: gzip stream is truncated (unexpected end of data after ${data.length} bytes); re-download the file`, {
        cause: err,
      });
    }
    throw new PaprecError(`${file}: corrupt gzip data (${(err as Error).message})`, { cause: err });
  }
}

/** Read text that may be gzipped (by magic bytes, not by name). */
export function maybeGunzip(data: Uint8Array, file: string): Buffer {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return gunzipOrFail(data, file);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
