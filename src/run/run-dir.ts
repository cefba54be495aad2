import { appendFileSync, closeSync, existsSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { BackendInfo } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ensureWritableDir } from '../io/dirs.js';
import { POLYNAS_VERSION } from '../io/version.js';
import { envInt } from '../io/env.js';


/** Files of a run folder. */
export interface RunDir {
  dir: string;
  /** Appends one JSON record (with a timestamp) to `log.jsonl`. */
  log(record: Record<string, unknown>): void;
  /** Writes a JSON file atomically. */
  writeJson(name: string, value: unknown): void;
  /** Writes a CSV file atomically from rows of objects (columns from the first row). */
  writeCsv(name: string, rows: Record<string, unknown>[]): void;
  writeText(name: string, text: string): void;
  path(name: string): string;
}

/**
 * Opens (creating if needed) a run folder.
 *
 * @example
 * ```ts
 * const run = openRunDir('runs/x');
 * run.log({ type: 'note', text: 'started' });
 * run.writeJson('result.json', { top1: 0.98 });
 * ```
 */
export function openRunDir(dir: string, clock: () => Date = () => new Date()): RunDir {
  ensureWritableDir(dir);
  const path = (name: string) => join(dir, name);
  return {
    dir,
    path,
    log(record) {
      appendFileSync(path('log.jsonl'), JSON.stringify({ time: clock().toISOString(), ...record }) + '\n');
    },
    writeJson(name, value) {
      writeFileAtomic(path(name), JSON.stringify(value, null, 2) + '\n');
    },
    writeCsv(name, rows) {
      writeFileAtomic(path(name), stringify(rows, { header: true, columns: rows[0] ? Object.keys(rows[0]) : [] }));
    },
    writeText(name, text) {
      writeFileAtomic(path(name), text);
    },
  };
}

/** Environment facts recorded in every run folder. */
export function runMetadata(backend: BackendInfo, seed: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    polynas: POLYNAS_VERSION,
    tfjs: backend.tfjsVersion,
    backend: backend.backend,
    backendPackage: backend.package,
    backendTried: backend.tried,
    ...(backend.threads !== undefined ? { backendThreads: backend.threads } : {}),
    ...(backend.threadPolicy ? { backendThreadPolicy: backend.threadPolicy } : {}),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    seed,
    ...extra,
  };
}

/** True when a run folder holds a checkpoint. */
export function hasCheckpoint(dir: string, name = 'checkpoint.bin'): boolean {
  return existsSync(join(dir, name));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run folder's lock (`run.lock`, holding this process id) so that two runs never write
 * the same folder at once. A lock left by a process that no longer exists (a killed run) is taken
 * over. Returns the release function.
 *
 * @example
 * ```ts
 * const release = lockRunDir('runs/x'); // throws while another live process holds it
 * try { await work(); } finally { release(); }
 * ```
 */
export function lockRunDir(dir: string): () => void {
  ensureWritableDir(dir);
  const file = join(dir, 'run.lock');
  const key = resolve(file);
  // Re-entrant within a process (a study cell locks a folder whose phase locks it again): while this
  // process's lock is still in place, another taker shares it and only the last release removes it.
  const mine = held.get(key);
  if (mine && ownsLock(file)) {
    mine.count++;
    return releaseOnce(mine);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname() }));
      closeSync(fd);
      // The holder touches its lock; a lock of another host untouched for the lease is a dead run's.
      const beat = setInterval(() => {
        try {
          const now = new Date();
          utimesSync(file, now, now);
        } catch {}
      }, Math.max(1000, (lockLeaseSeconds() * 1000) / 4));
      beat.unref();
      held.get(key)?.stop();
      const entry: HeldLock = {
        count: 1,
        stop: () => {
          clearInterval(beat);
          if (held.get(key) !== entry) return; // a later take-over owns the file now
          held.delete(key);
          rmSync(file, { force: true });
        },
      };
      held.set(key, entry);
      return releaseOnce(entry);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = lockHolder(readFileSync(file, 'utf8'));
      if (holder.host !== undefined && holder.host !== hostname()) {
        // A lock of another machine (a shared folder) cannot be checked for life: it holds while it is renewed.
        const age = (Date.now() - statSync(file).mtimeMs) / 1000;
        if (age < lockLeaseSeconds()) throw new RunFolderInUseError(dir, holder.pid, holder.host);
      } else if (Number.isInteger(holder.pid) && holder.pid > 0 && holder.pid !== process.pid && processAlive(holder.pid)) {
        throw new RunFolderInUseError(dir, holder.pid);
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`${dir}: cannot take the run lock ${file}`);
}

interface HeldLock {
  count: number;
  stop: () => void;
}

/** This process's run locks, by lock file. */
const held = new Map<string, HeldLock>();

function ownsLock(file: string): boolean {
  try {
    const holder = lockHolder(readFileSync(file, 'utf8'));
    return holder.pid === process.pid && (holder.host === undefined || holder.host === hostname());
  } catch {
    return false;
  }
}

/** A release function that counts once however often it is called. */
function releaseOnce(entry: HeldLock): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--entry.count === 0) entry.stop();
  };
}

/** How long a run lock of another host holds without being renewed (`POLYNAS_LOCK_LEASE_S`, default 120 s). */
export function lockLeaseSeconds(): number {
  return envInt('POLYNAS_LOCK_LEASE_S', 5, 86_400) ?? 120;
}

/** Raised when a run's phase was stopped through its signal; the folder keeps what it saved. */
export class RunStoppedError extends Error {
  constructor(
    readonly phase: string,
    readonly outDir: string,
  ) {
    super(`${phase} was stopped; its checkpoint is in ${outDir}`);
    this.name = 'RunStoppedError';
  }
}

/** The process (and machine) a `run.lock` names; locks of polynas 0.1 hold a bare process id. */
function lockHolder(text: string): { pid: number; host?: string } {
  try {
    const j = JSON.parse(text) as { pid?: unknown; host?: unknown };
    if (typeof j === 'object' && j !== null) return { pid: Number(j.pid), ...(typeof j.host === 'string' ? { host: j.host } : {}) };
  } catch {
    // a bare process id
  }
  return { pid: Number(text.trim()) };
}

/** Raised when another live process holds a run folder's lock. */
export class RunFolderInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly host?: string,
  ) {
    super(`${dir} is in use by another polynas run (process ${pid}${host ? ` on ${host}` : ''})`);
    this.name = 'RunFolderInUseError';
  }
}

/** Raised when a run is resumed on another backend than the one it started on (its numbers would mix). */
export class BackendChangedError extends Error {
  /** Resuming on another engine never becomes possible by retrying. */
  readonly retryable = false;
  constructor(
    readonly dir: string,
    readonly was: string,
    readonly now: string,
  ) {
    super(`${dir} was run on the '${was}' backend; resuming it on '${now}' would mix two engines' numbers`);
    this.name = 'BackendChangedError';
  }
}

/** On a resume, the backend must be the one the folder's `meta.json` records. */
export function checkResumeBackend(dir: string, backend: string): void {
  const file = join(dir, 'meta.json');
  if (!existsSync(file)) return;
  const was = (JSON.parse(readFileSync(file, 'utf8')) as { backend?: unknown }).backend;
  if (typeof was === 'string' && was !== backend) throw new BackendChangedError(dir, was, backend);
}
