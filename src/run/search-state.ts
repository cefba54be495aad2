import { rmSync } from 'node:fs';
import { loadCheckpoint, saveCheckpoint, type TensorState } from '../io/checkpoint.js';
import type { SearchSnapshot } from '../search/loop.js';

/** The meta block of `search-state.bin`: the snapshot without its tensors, and the settings it belongs to. */
interface SearchStateMeta {
  kind: 'polynas-search-state';
  settings: string;
  snapshot: Omit<SearchSnapshot, 'net' | 'strategy'> & { strategy: { values: Record<string, number>; optimizers: Record<string, { step: number; slots: string[] }> } };
}

/**
 * Writes a search snapshot atomically: the network's tensors under `net/`, each optimizer's slots under
 * `opt/<name>/`, everything else (position, record, controller values, gates' host state) in the meta
 * block with the hash of the settings that produced it.
 *
 * @example
 * ```ts
 * await runSearchLoop(strategy, settings, ctx, { onCheckpoint: (s) => saveSearchState('runs/s/search-state.bin', s, hash) });
 * ```
 */
export function saveSearchState(path: string, snap: SearchSnapshot, settings: string): void {
  const tensors: Record<string, TensorState> = {};
  for (const [k, v] of Object.entries(snap.net)) tensors[`net/${k}`] = v;
  const optimizers: Record<string, { step: number; slots: string[] }> = {};
  for (const [name, o] of Object.entries(snap.strategy.optimizers)) {
    optimizers[name] = { step: o.step, slots: Object.keys(o.slots) };
    for (const [k, v] of Object.entries(o.slots)) tensors[`opt/${name}/${k}`] = v;
  }
  const { net: _n, strategy, ...rest } = snap;
  const meta: SearchStateMeta = { kind: 'polynas-search-state', settings, snapshot: { ...rest, strategy: { values: strategy.values, optimizers } } };
  saveCheckpoint(path, { meta, tensors });
}

/**
 * Reads a snapshot written by {@link saveSearchState} for the same settings (another settings hash,
 * or no file: undefined, and the search starts over).
 */
export function loadSearchState(path: string, settings: string): SearchSnapshot | undefined {
  const ckpt = loadCheckpoint<SearchStateMeta>(path);
  if (!ckpt || ckpt.meta.kind !== 'polynas-search-state' || ckpt.meta.settings !== settings) return undefined;
  const net: Record<string, TensorState> = {};
  for (const [k, v] of Object.entries(ckpt.tensors)) if (k.startsWith('net/')) net[k.slice(4)] = v;
  const s = ckpt.meta.snapshot;
  const optimizers = Object.fromEntries(Object.entries(s.strategy.optimizers).map(([name, o]) => [name, { step: o.step, slots: Object.fromEntries(o.slots.map((k) => [k, ckpt.tensors[`opt/${name}/${k}`]!])) }]));
  // JSON has no Infinity: a controller value written as null (SNL's "no best count yet") reads back as Infinity.
  const values = Object.fromEntries(Object.entries(s.strategy.values).map(([k, v]) => [k, v ?? Infinity]));
  return { ...s, net, strategy: { values, optimizers } };
}

/** Removes a search snapshot (once the search's result is saved). */
export function removeSearchState(path: string): void {
  rmSync(path, { force: true });
}
