import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { makeDir } from '../io/dirs.js';
import { dirname, join } from 'node:path';
import * as tar from 'tar';

/** One file of an official dataset distribution. */
export interface RemoteFile {
  url: string;
  /** File name in the cache directory. */
  file: string;
  md5: string;
  /** Unpack this `.tar.gz` into the cache directory after verifying it. */
  untar?: boolean;
}

/** Raised when files are missing and cannot be downloaded (offline, refused, bad checksum). */
export class DatasetUnavailableError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'DatasetUnavailableError';
  }
}

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

/** Options of {@link downloadFiles}. */
export interface DownloadOptions {
  /** Abort a request that has not finished after this many ms. Default 10 minutes. */
  timeoutMs?: number;
  /** Injected for tests; default: the global `fetch`. */
  fetch?: FetchLike;
  /** Called with a line per file. */
  log?: (line: string) => void;
}

/** MD5 of a buffer, hex. */
export function md5(buf: Uint8Array): string {
  return createHash('md5').update(buf).digest('hex');
}

/**
 * Downloads each file into `dir` (skipping files already present), verifies its MD5, writes it
 * atomically (temp file + rename) and unpacks archives. Fails fast with a
 * {@link DatasetUnavailableError} that says where to place the files by hand when the network is
 * unreachable.
 *
 * @example
 * ```ts
 * await downloadFiles(DATASET_SOURCES['fashion-mnist'], '/data/fashion-mnist', { log: console.error });
 * ```
 */
export async function downloadFiles(files: RemoteFile[], dir: string, what: string, opts: DownloadOptions = {}): Promise<void> {
  const doFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  makeDir(dir);
  for (const f of files) {
    const dest = join(dir, f.file);
    if (existsSync(dest)) continue;
    opts.log?.(`downloading ${f.url}`);
    let body: Uint8Array;
    try {
      const res = await doFetch(f.url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 600_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      body = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new DatasetUnavailableError(
        `${what}: cannot download ${f.url} (${reason}); this machine looks offline. ` +
          `Place the official files at ${dir} (${files.map((x) => x.file).join(', ')}).`,
      );
    }
    const sum = md5(body);
    if (sum !== f.md5) {
      throw new DatasetUnavailableError(`${what}: ${f.url} has MD5 ${sum}, expected ${f.md5}; the download is corrupt or the file changed`);
    }
    const tmp = `${dest}.part-${process.pid}`;
    writeFileSync(tmp, body);
    if (f.untar) {
      await tar.x({ file: tmp, cwd: dirname(dest) });
    }
    renameSync(tmp, dest);
  }
}

