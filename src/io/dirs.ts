import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Raised when an output folder cannot be created or written. */
export class OutputFolderError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`${dir}: cannot write the output folder (${reason})`);
    this.name = 'OutputFolderError';
  }
}

/**
 * Creates `dir` (and missing parents) one level at a time. Node's recursive `mkdir` never returns on
 * some virtual file systems (a path under `/proc` spun at full CPU); one level at a time fails at once.
 */
export function makeDir(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  while (!existsSync(p)) {
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (existsSync(p) && !statSync(p).isDirectory()) throw new OutputFolderError(dir, `${p} is a file, not a folder`);
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'EEXIST') throw new OutputFolderError(dir, `${err.code ?? 'error'} creating ${m}`);
    }
  }
}

/**
 * Makes sure `dir` exists and a file can be written in it (a probe file is written and removed), so
 * that a run fails before any work rather than after it.
 *
 * @example
 * ```ts
 * ensureWritableDir('runs/x'); // throws OutputFolderError naming the folder and why
 * ```
 */
export function ensureWritableDir(dir: string): void {
  makeDir(dir);
  const probe = join(dir, `.polynas-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw new OutputFolderError(dir, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  } finally {
    rmSync(probe, { force: true });
  }
}
