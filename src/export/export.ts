import { readFileSync } from 'node:fs';
import type { Backbone } from '../backbones/backbone.js';
import { createBackbone } from '../backbones/registry.js';
import { ChannelPoly } from '../ops/poly.js';
import { X2act } from '../ops/x2act.js';
import { costLayers } from '../latency/network.js';
import { networkCost } from '../latency/cost.js';
import type { LatencyTable } from '../latency/schema.js';
import { parseSearchSpace, type SearchSpace } from '../spec/space.js';
import { buildMaskSupernet } from '../supernet/build.js';
import { MaskGate } from '../supernet/mask-gate.js';
import { DartsGate } from '../supernet/darts-gate.js';
import { buildDartsSupernet } from '../search/darts.js';
import type { Module } from '../nn/module.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { writeFileAtomic } from '../io/atomic.js';
import { POLYNAS_VERSION } from '../io/version.js';

/** A binary mask packed 8 decisions per byte (bit i of byte ⌊i/8⌋ = decision i), base64. */
export interface PackedMask {
  encoding: 'bitset-base64';
  shape: number[];
  data: string;
}

/**
 * @example
 * ```ts
 * const m = packMask([1, 0, 1, 1], [4]); // { encoding: 'bitset-base64', shape: [4], data: 'DQ==' }
 * unpackMask(m); // Uint8Array [1, 0, 1, 1]
 * ```
 */
export function packMask(values: ArrayLike<number>, shape: number[]): PackedMask {
  const bytes = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) if (values[i]! > 0.5) bytes[i >> 3]! |= 1 << (i & 7);
  return { encoding: 'bitset-base64', shape, data: Buffer.from(bytes).toString('base64') };
}

/**
 * @example
 * ```ts
 * unpackMask(packMask([1, 0, 1], [3])); // Uint8Array [1, 0, 1]
 * ```
 */
export function unpackMask(m: PackedMask): Uint8Array {
  const n = m.shape.reduce((a, b) => a * b, 1);
  const bytes = Buffer.from(m.data, 'base64');
  if (bytes.length !== Math.ceil(n / 8)) throw new Error(`mask of shape [${m.shape}] needs ${Math.ceil(n / 8)} bytes, got ${bytes.length}`);
  return Uint8Array.from({ length: n }, (_, i) => (bytes[i >> 3]! >> (i & 7)) & 1);
}

/** A placed gate of either kind: an AutoReP/SNL mask gate or a DARTS gate. */
export interface ExportGate {
  path: string;
  gate: MaskGate | DartsGate;
}

/** The trained coefficients of a polynomial operator, for the export (undefined for other ops). */
function coefficientsOf(op: Module): unknown {
  if (op instanceof ChannelPoly) return op.coeffs.arraySync() as number[][];
  if (op instanceof X2act) return { w1: Array.from(op.w1.dataSync()), w2: Array.from(op.w2.dataSync()), b: Array.from(op.b.dataSync()), s: op.s };
  return undefined;
}

/** What {@link exportArchitecture} writes besides the network itself. */
export interface ExportOptions {
  space: SearchSpace;
  strategy: string;
  /** The exact ReLU budget the discretization met (absent: DARTS argmax without a budget). */
  budget?: number;
  seed: number;
  /** Predicted 2PC latency under this table (and network profile). */
  table?: LatencyTable;
  network?: string;
  recipe?: unknown;
  metrics?: Record<string, unknown>;
  /** Input normalization the network was trained with (kept so the export evaluates on its own). */
  normalization?: { mean: number[]; std: number[] };
}

/**
 * Writes `<base>.json` (the discretized architecture: backbone, input shape, per site the chosen
 * operator, granularity, packed mask and polynomial coefficients, total and per-layer ReLU counts,
 * predicted 2PC latency, the space, recipe, library version and seed) and `<base>.weights.bin`,
 * both atomically. Returns the JSON object.
 *
 * @example
 * ```ts
 * exportArchitecture(net, gates, 'runs/s/architecture', { space, strategy: 'autorep', budget: 300, seed: 0, table: loadLatencyTable('crypten-2pc-dealer'), network: 'WAN' });
 * ```
 */
export function exportArchitecture(net: Backbone, gates: readonly ExportGate[], base: string, opts: ExportOptions): Record<string, unknown> {
  const sites: Record<string, unknown> = {};
  const perLayer: { path: string; total: number; kept: number }[] = [];
  for (const { path, gate } of gates) {
    if (gate instanceof MaskGate) {
      const kept = gate.reluCount();
      const coefficients = coefficientsOf(gate.alt);
      sites[path] = {
        op: gate.altCostOp(),
        granularity: gate.granularity,
        keptRelus: kept,
        siteShape: gate.siteShape,
        mask: packMask(gate.mask.dataSync(), gate.decisionShape()),
        ...(coefficients ? { coefficients } : {}),
      };
      perLayer.push({ path, total: gate.siteSize(), kept });
    } else {
      const op = gate.choice();
      const isActivation = gate.names.includes('relu') || !gate.names.some((n) => n.endsWith('pool'));
      const coefficients = coefficientsOf(gate.ops[gate.names.indexOf(op)]!);
      sites[path] = {
        op,
        granularity: 'layer',
        candidates: gate.names,
        theta: Array.from(gate.theta.dataSync()),
        ...(isActivation ? { keptRelus: gate.reluCount() } : {}),
        siteShape: gate.siteShape,
        ...(coefficients ? { coefficients } : {}),
      };
      if (isActivation) perLayer.push({ path, total: gate.siteSize(), kept: gate.reluCount() });
    }
  }
  const report = net.reluCount();
  const total = report.total;
  let latency: Record<string, unknown> | undefined;
  if (opts.table) {
    const c = networkCost(costLayers(net), opts.table, opts.network ? { network: opts.network } : {});
    latency = {
      table: c.table, network: c.network?.name, unit: c.unit, total: c.total, totalMs: c.totalMs, commBytes: c.commBytes, rounds: c.rounds,
      unmodelled: c.unmodelled, perLayer: c.perLayer.map((l) => ({ path: l.path, op: l.op, time: l.time, bytes: l.bytes, rounds: l.rounds })),
    };
  }
  const arch = {
    format: 'polynas-architecture',
    formatVersion: 1,
    polynas: POLYNAS_VERSION,
    backbone: net.arch,
    numClasses: net.numClasses,
    inputShape: net.inputShape,
    ...(opts.normalization ? { normalization: opts.normalization } : {}),
    strategy: opts.strategy,
    seed: opts.seed,
    ...(opts.budget !== undefined ? { budget: opts.budget } : {}),
    relus: { total, ...(opts.budget !== undefined ? { budgetMet: total <= opts.budget } : {}), perLayer },
    sites,
    ...(latency ? { latency } : {}),
    space: opts.space,
    ...(opts.recipe ? { recipe: opts.recipe } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  };
  writeFileAtomic(`${base}.json`, JSON.stringify(arch, null, 2) + '\n');
  saveCheckpoint(`${base}.weights.bin`, { meta: { kind: 'polynas-architecture-weights', backbone: net.arch }, tensors: net.stateDict() });
  return arch;
}

/**
 * Rebuilds an exported architecture: backbone, supernet from the embedded space, weights, and the
 * masks frozen as exported. Evaluating it reproduces the exported network's accuracy.
 *
 * @example
 * ```ts
 * const { net } = loadExportedArchitecture('runs/s/architecture');
 * ```
 */
export function loadExportedArchitecture(base: string): { net: Backbone; gates: ExportGate[]; arch: Record<string, unknown> } {
  const file = base.endsWith('.json') ? base : `${base}.json`;
  const stem = file.slice(0, -'.json'.length);
  const arch = JSON.parse(readFileSync(file, 'utf8')) as {
    format?: string; backbone: string; numClasses: number; inputShape: [number, number, number]; seed: number; space: unknown; strategy?: string;
    sites: Record<string, { op: string; mask?: PackedMask }>;
  };
  if (arch.format !== 'polynas-architecture') throw new Error(`${file}: not a polynas architecture (format '${String(arch.format)}')`);
  const net = createBackbone(arch.backbone, { numClasses: arch.numClasses, inputShape: arch.inputShape });
  const space = parseSearchSpace(arch.space, `${file}: space`);
  const gates: ExportGate[] = arch.strategy === 'darts' ? buildDartsSupernet(net, space).gates : buildMaskSupernet(net, space, { seed: arch.seed }).gates;
  const ckpt = loadCheckpoint(`${stem}.weights.bin`);
  if (!ckpt) throw new Error(`${stem}.weights.bin: missing weights file`);
  net.loadStateDict(ckpt.tensors);
  for (const { path, gate } of gates) {
    const site = arch.sites[path];
    if (!site) throw new Error(`${file}: no entry for site '${path}'`);
    if (gate instanceof MaskGate) {
      if (!site.mask) throw new Error(`${file}: site '${path}' has no mask`);
      gate.freeze(unpackMask(site.mask));
    } else gate.choose(site.op);
  }
  return { net, gates, arch: arch as unknown as Record<string, unknown> };
}
