import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { BackendInfo } from '../engine/backend.js';
import { writeFileAtomic } from './checkpoint.js';

/** Version of this library (from its package.json). */
export const POLYNAS_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

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

/** Opens (creating if needed) a run folder. */
export function openRunDir(dir: string, clock: () => Date = () => new Date()): RunDir {
  mkdirSync(dir, { recursive: true });
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
