import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { makeDir } from './dirs.js';
import { dirname } from 'node:path';

/**
 * Writes `data` to `path` atomically: a temp file in the same folder, fsync, then rename, so that a
 * reader sees either the old file or the new one, never a torn write. A failed write removes its
 * temp file.
 *
 * @example
 * ```ts
 * writeFileAtomic('runs/x/result.json', JSON.stringify(result)); // temp file + fsync + rename
 * ```
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  makeDir(dirname(path));
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes `value` as indented JSON (with a final newline), atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
