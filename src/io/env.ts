import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Every `POLYNAS_*` environment variable polynas reads, read here and validated, so that a bad
 * value fails with the variable's name and value rather than as a `NaN` deep in an engine.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `POLYNAS_CACHE_DIR` | downloads and generated engine files | `~/.cache/polynas` |
 * | `POLYNAS_DATA_DIR` | folder holding one sub-folder per dataset | unset |
 * | `POLYNAS_TORCH_THREADS` | LibTorch intra-op threads, integer in [1, 256], or `auto`: follow the cores other processes leave free (faster on a busy machine, but a result then depends on the load: floating-point reductions differ between thread counts) | every core |
 * | `POLYNAS_WASM_THREADS` | wasm backend threads, integer in [1, 64] | every core, at most 8 |
 * | `POLYNAS_LOCK_LEASE_S` | how long a run folder's lock held by another host lasts unrenewed, seconds in [5, 86400] | 120 |
 */
export type Env = Readonly<Record<string, string | undefined>>;

/** Raised for an environment variable whose value polynas cannot use. */
export class EnvError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(
    readonly variable: string,
    readonly value: string,
    expected: string,
  ) {
    super(`${variable}: expected ${expected}, got '${value}'`);
    this.name = 'EnvError';
  }
}

/** An integer variable in [min, max], or undefined when unset or empty. */
export function envInt(name: string, min: number, max: number, env: Env = process.env): number | undefined {
  const v = env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new EnvError(name, v, `an integer in [${min}, ${max}]`);
  return n;
}

/** A path variable, or undefined when unset or empty. */
export function envPath(name: string, env: Env = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

/**
 * The cache folder (`$POLYNAS_CACHE_DIR`, default `~/.cache/polynas`): dataset downloads and the
 * generated wasm worker file.
 *
 * @example
 * ```ts
 * cacheDir({ POLYNAS_CACHE_DIR: '/tmp/c' }); // '/tmp/c'
 * ```
 */
export function cacheDir(env: Env = process.env): string {
  return envPath('POLYNAS_CACHE_DIR', env) ?? join(homedir(), '.cache', 'polynas');
}

/** `$POLYNAS_DATA_DIR/<dataset>` when the variable is set. */
export function dataDirFromEnv(dataset: string, env: Env = process.env): string | undefined {
  const d = envPath('POLYNAS_DATA_DIR', env);
  return d ? join(d, dataset) : undefined;
}

/** LibTorch intra-op threads (`$POLYNAS_TORCH_THREADS`), undefined: every core; `auto`: adapted to the free cores. */
export function torchThreadsFromEnv(env: Env = process.env): number | 'auto' | undefined {
  if (env.POLYNAS_TORCH_THREADS?.trim() === 'auto') return 'auto';
  return envInt('POLYNAS_TORCH_THREADS', 1, 256, env);
}

/** wasm backend threads (`$POLYNAS_WASM_THREADS`), undefined: the default. */
export function wasmThreadsFromEnv(env: Env = process.env): number | undefined {
  return envInt('POLYNAS_WASM_THREADS', 1, 64, env);
}
