/**
 * Multithreaded WebAssembly backend under Node.
 *
 * `@tensorflow/tfjs-backend-wasm` ships a threaded SIMD binary whose XNNPACK kernels (convolutions,
 * matmuls, element-wise ops) split work over a pthread pool, but its Node bundle never uses it:
 *
 * 1. the `WASM_HAS_MULTITHREAD_SUPPORT` flag is hard-wired to false under Node;
 * 2. the pthread worker script and the module factory are handed to Emscripten as `Blob` object
 *    URLs, which `worker_threads.Worker` and the worker's `importScripts` (a file read) cannot open;
 * 3. the backend caps its pool at half the logical cores, so a 2-core machine gets one thread.
 *
 * {@link enableWasmThreads} works around all three while the backend initialises: it sets the flag
 * and the thread count, writes the worker script (with a two-line prelude that maps the factory's
 * object URL to the package's own standalone factory file) to a cache folder, answers the worker
 * script's object URL with that file's path, and reports 2n cores while the pool is sized. It
 * relies on the layout of tfjs-backend-wasm 4.22, which polynas pins exactly; any failure leaves the
 * single-threaded binary in place.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';
import { cacheDir, wasmThreadsFromEnv } from '../io/env.js';

const requireHere = createRequire(import.meta.url);

/** Threads the wasm backend uses when nothing else is asked: every core, at most 8. */
export function defaultWasmThreads(): number {
  const n = wasmThreadsFromEnv();
  if (n !== undefined) return n;
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

interface WasmModuleApi {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Writes `text` to `path` unless a file is there (temp file + rename, so racing processes are safe). */
function writeOnce(path: string, text: string): void {
  if (existsSync(path)) return;
  writeFileAtomic(path, text);
}

/** The pthread worker script, written once per package version into a cache folder. */
function workerScript(): string {
  const pkgDir = dirname(requireHere.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const factoryPath = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const workerModule = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  if (!existsSync(factoryPath) || !existsSync(workerModule)) {
    throw new Error(`tfjs-backend-wasm has no threaded build at ${dirname(factoryPath)}`);
  }
  const { wasmWorkerContents } = requireHere(workerModule) as { wasmWorkerContents: string };
  // The worker receives the factory as a Blob and opens it through URL.createObjectURL +
  // importScripts (a file read); map every object URL to the standalone factory file instead.
  const prelude =
    `URL.createObjectURL = function () { return ${JSON.stringify(factoryPath)}; };\n` +
    `URL.revokeObjectURL = function () {};\n`;
  // The script keeps an escaped newline inside a string literal (the bundle escapes it the same way).
  const text = prelude + wasmWorkerContents.replace(/^"use strict";/, '').replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = cacheDir();
  const path = join(dir, `tfjs-wasm-worker-${hash}.cjs`);
  writeOnce(path, text);
  return path;
}

/**
 * Prepares the wasm backend to start with `threads` threads, runs `init` (which must call
 * `tf.setBackend('wasm')`), and restores the patched globals afterwards. Returns the thread count
 * the backend reports.
 *
 * @example
 * ```ts
 * const threads = await enableWasmThreads(2, () => tf.setBackend('wasm'));
 * ```
 */
export async function enableWasmThreads(threads: number, init: () => Promise<unknown>): Promise<number> {
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModuleApi;
  if (threads <= 1) {
    await init();
    return wasm.getThreadsCount();
  }
  const worker = workerScript();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (obj: Blob): string =>
    obj instanceof Blob && obj.type === 'application/javascript' ? worker : createObjectURL(obj);
  const core = cpus()[0]!;
  const cores = Array.from({ length: 2 * threads }, () => core);
  os.cpus = () => cores;
  try {
    await init();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
  return wasm.getThreadsCount();
}

interface PThreadApi {
  runningWorkers: { unref(): void }[];
}

/**
 * Lets the process exit while the wasm backend's thread pool is alive: Emscripten keeps a running
 * pthread's worker referenced, so a CLI run would otherwise never end. No-op for a single thread.
 */
export function releaseWasmWorkers(): void {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: PThreadApi } } | null;
  for (const worker of backend?.wasm?.PThread?.runningWorkers ?? []) worker.unref();
}
