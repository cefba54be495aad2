import { createRequire } from 'node:module';
import { tf } from './tf.js';
import { defaultWasmThreads, enableWasmThreads, releaseWasmWorkers } from './wasm-threads.js';

/** Backends a user can ask for. `auto` picks the fastest one that loads. */
import { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export { BACKEND_CHOICES, type BackendChoice };

/** What {@link selectBackend} did: the active backend and every package it tried. */
export interface BackendInfo {
  /** tfjs backend name now active (`tensorflow`, `wasm` or `cpu`). */
  backend: string;
  /** npm package that provides it. */
  package: string;
  /** What was asked for. */
  requested: BackendChoice;
  /** Packages tried before, with the reason each was skipped. */
  tried: { package: string; error: string }[];
  /** tfjs version in use. */
  tfjsVersion: string;
  /** Threads the backend computes with, where it reports them (wasm, torch). */
  threads?: number;
  /**
   * torch: `adaptive` under `POLYNAS_TORCH_THREADS=auto` (the threads follow the free cores, so
   * floating-point sums, and with them a run's numbers, depend on the machine's load; `threads` is
   * the count at the start), else `fixed`.
   */
  threadPolicy?: 'fixed' | 'adaptive';
}

interface Candidate {
  backend: string;
  pkg: string;
  load: () => Promise<unknown>;
}

async function setBackendOrThrow(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
}

/**
 * Starts the wasm backend with {@link defaultWasmThreads} threads (`POLYNAS_WASM_THREADS`), or
 * with one where that many cannot start.
 */
async function activateWasm(tried: { package: string; error: string }[]): Promise<number> {
  const threads = defaultWasmThreads();
  if (threads > 1) {
    try {
      const got = await enableWasmThreads(threads, () => setBackendOrThrow('wasm'));
      releaseWasmWorkers();
      return got;
    } catch (err) {
      tried.push({ package: `@tensorflow/tfjs-backend-wasm (${threads} threads)`, error: shortError(err) });
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (tf.getBackend() === 'wasm') return wasm.getThreadsCount();
      // A failed initialisation leaves the factory registered: retry it single-threaded.
      wasm.setThreadsCount(1);
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
  }
  await setBackendOrThrow('wasm');
  return 1;
}

// The native packages are optional peers: they are resolved first (a plain MODULE_NOT_FOUND when
// absent) and imported by a computed name so that TypeScript and bundlers do not require them.
const requireHere = createRequire(import.meta.url);
const importOptional = (name: string): Promise<unknown> => {
  requireHere.resolve(name);
  return import(name);
};

const CANDIDATES: Record<Exclude<BackendChoice, 'auto'>, Candidate[]> = {
  tensorflow: [
    { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu', load: () => importOptional('@tensorflow/tfjs-node-gpu') },
    { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', load: () => importOptional('@tensorflow/tfjs-node') },
  ],
  torch: [{ backend: 'torch', pkg: 'polynas native/torch (LibTorch)', load: async () => (await import('./torch.js')).registerTorchBackend() }],
  wasm: [{ backend: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', load: () => import('@tensorflow/tfjs-backend-wasm') }],
  cpu: [{ backend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', load: async () => undefined }],
};

const AUTO_ORDER: Exclude<BackendChoice, 'auto'>[] = ['tensorflow', 'torch', 'wasm', 'cpu'];

let current: BackendInfo | undefined;

/** Error raised when a requested backend cannot be loaded. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly requested: BackendChoice,
    readonly tried: { package: string; error: string }[],
  ) {
    super(
      `backend '${requested}' is not available: ` +
        tried.map((t) => `${t.package}: ${t.error}`).join('; ') +
        (requested === 'tensorflow'
          ? '. Install one of them with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (CUDA GPU) or `npm install @tensorflow/tfjs-node@4.22.0`.'
          : requested === 'torch'
            ? ' (apt-get install -y libtorch-dev, then npm run build:torch).'
            : ''),
    );
    this.name = 'BackendUnavailableError';
  }
}

/**
 * Selects and initialises the compute backend.
 *
 * `auto` tries, in order: `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node` (native TensorFlow,
 * optional peer dependencies), `torch` (polynas' LibTorch engine, when `npm run build:torch` has
 * built it), `@tensorflow/tfjs-backend-wasm`, then the pure-JS cpu backend.
 * A named choice loads only that backend and throws {@link BackendUnavailableError} if it cannot.
 * Calling it again with the same choice is a no-op.
 *
 * @example
 * ```ts
 * import { selectBackend } from 'polynas';
 * const info = await selectBackend('auto');
 * console.log(info.backend); // 'wasm' on a machine without tfjs-node
 * ```
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new Error(`backend: unknown choice '${String(choice)}'; known: ${BACKEND_CHOICES.join(', ')}`);
  }
  if (current && (current.requested === choice || current.backend === choice)) return current;
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const tried: { package: string; error: string }[] = [];
  for (const family of order) {
    for (const cand of CANDIDATES[family]) {
      try {
        await cand.load();
        let threads: number | undefined;
        let threadPolicy: BackendInfo['threadPolicy'];
        if (cand.backend === 'wasm') {
          threads = await activateWasm(tried);
        } else {
          await setBackendOrThrow(cand.backend);
          if (cand.backend === 'torch') ({ threads, policy: threadPolicy } = (await import('./torch.js')).torchThreadPolicy());
        }
        await tf.ready();
        current = { backend: tf.getBackend(), package: cand.pkg, requested: choice, tried, tfjsVersion: tf.version.tfjs, threads, ...(threadPolicy ? { threadPolicy } : {}) };
        return current;
      } catch (err) {
        tried.push({ package: cand.pkg, error: shortError(err) });
      }
    }
  }
  throw new BackendUnavailableError(choice, tried);
}

/**
 * The backend chosen by the last {@link selectBackend} call, if any.
 *
 * @example
 * ```ts
 * await selectBackend('auto');
 * currentBackend(); // 'wasm' here; 'tensorflow' with tfjs-node
 * ```
 */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

function shortError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    const first = err.message.split('\n')[0] ?? '';
    return code ? `${code}: ${first}` : first;
  }
  return String(err);
}
