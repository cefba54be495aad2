import { existsSync } from 'node:fs';
import type { Backbone } from '../backbones/backbone.js';
import { createBackbone } from '../backbones/registry.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { parseWith, readJsonFile } from '../io/json.js';
import { POLYNAS_VERSION } from '../io/version.js';
import { networkCost } from '../latency/cost.js';
import { measureDeployed } from './deploy.js';
import { costLayers } from '../latency/network.js';
import type { LatencyTable } from '../latency/schema.js';
import {
  ARCHITECTURE_FORMAT,
  ARCHITECTURE_FORMAT_VERSION,
  architectureSchema,
  upgradeArchitecture,
  type Architecture,
} from '../spec/architecture.js';
import type { SearchSpace } from '../spec/space.js';
import { buildSupernet } from '../supernet/build.js';
import { costChoices, searchableRelus, type PlacedGate } from '../supernet/gate.js';

/** What an export records besides the network itself. */
export interface ArchitectureContext {
  space: SearchSpace;
  strategy: string;
  seed: number;
  /** The exact ReLU budget the discretization met (absent: DARTS argmax without a budget). */
  budget?: number;
  /** The budget counts max-pool comparisons too. */
  countMaxPool?: boolean;
  /** Input normalization the network was trained with (kept so the export evaluates on its own). */
  normalization?: { mean: number[]; std: number[] };
  /** Predicted 2PC latency under this table (and network profile). */
  table?: LatencyTable;
  network?: string;
  /** The normalized recipe of the run. */
  recipe?: Record<string, unknown>;
  metrics?: Architecture['metrics'];
}

function latencyOf(net: Backbone, gates: readonly PlacedGate[], table: LatencyTable, network?: string): NonNullable<Architecture['latency']> {
  const c = networkCost(costLayers(net, costChoices(gates)), table, network ? { network } : {});
  return {
    table: c.table, ...(c.network ? { network: c.network.name } : {}), unit: c.unit, total: c.total,
    totalMs: c.totalMs, commBytes: c.commBytes, rounds: c.rounds,
    unmodelled: c.unmodelled, caveats: c.caveats, perLayer: c.perLayer.map((l) => ({ path: l.path, op: l.op, time: l.time, bytes: l.bytes, rounds: l.rounds })),
  };
}

/**
 * The discretized network as an {@link Architecture} (pure: reads the network, writes nothing):
 * backbone, input shape, each gated site serialized by its gate (operator, granularity, packed mask,
 * trained parameters), total and per-site ReLU counts, and the predicted 2PC latency.
 *
 * @example
 * ```ts
 * const arch = toArchitecture(net, gates, { space, strategy: 'autorep', seed: 0, budget: 300, table: loadLatencyTable('crypten-2pc-dealer') });
 * arch.relus.total; // ≤ 300
 * ```
 */
export function toArchitecture(net: Backbone, gates: readonly PlacedGate[], ctx: ArchitectureContext): Architecture {
  const sites = Object.fromEntries(gates.map(({ path, gate }) => [path, gate.toSite()]));
  const perLayer = gates.filter((g) => g.gate.siteKind === 'activation').map(({ path, gate }) => ({ path, total: gate.siteSize(), kept: gate.reluCount() }));
  const deployed = measureDeployed(net);
  const structural = net.reluCount();
  if (deployed.relus !== structural.total || deployed.comparisons !== structural.comparisons) {
    throw new Error(`internal: the deployed network evaluates ${deployed.relus} ReLUs and ${deployed.comparisons} comparisons, the sites report ${structural.total} and ${structural.comparisons}`);
  }
  const total = deployed.relus;
  const pools = deployed.perSite.filter((s) => s.comparisons > 0).map((s) => ({ path: s.path, comparisons: s.comparisons }));
  return {
    format: ARCHITECTURE_FORMAT,
    formatVersion: ARCHITECTURE_FORMAT_VERSION,
    polynas: POLYNAS_VERSION,
    backbone: net.arch,
    numClasses: net.numClasses,
    inputShape: [...net.inputShape] as [number, number, number],
    ...(ctx.normalization ? { normalization: ctx.normalization } : {}),
    strategy: ctx.strategy,
    seed: ctx.seed,
    ...(ctx.budget !== undefined ? { budget: ctx.budget } : {}),
    relus: {
      total, searchable: searchableRelus(gates), ...(ctx.budget !== undefined ? { budgetMet: total + (ctx.countMaxPool ? deployed.comparisons : 0) <= ctx.budget } : {}), perLayer,
      maxPoolComparisons: deployed.comparisons, perPool: pools, ...(ctx.countMaxPool ? { budgetIncludesMaxPool: true } : {}),
    },
    sites,
    ...(ctx.table ? { latency: latencyOf(net, gates, ctx.table, ctx.network) } : {}),
    space: ctx.space,
    ...(ctx.recipe ? { recipe: ctx.recipe } : {}),
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
  };
}

/** `<base>.json` and `<base>.weights.bin` of an export (`base` may end in `.json`). */
export function architectureFiles(base: string): { json: string; weights: string } {
  const stem = base.endsWith('.json') ? base.slice(0, -'.json'.length) : base;
  return { json: `${stem}.json`, weights: `${stem}.weights.bin` };
}

/**
 * Writes `<base>.json` and the network's weights `<base>.weights.bin`, both atomically.
 *
 * @example
 * ```ts
 * writeArchitecture('runs/s/architecture', toArchitecture(net, gates, ctx), net);
 * ```
 */
export function writeArchitecture(base: string, arch: Architecture, net: Backbone): void {
  const f = architectureFiles(base);
  writeJsonAtomic(f.json, arch);
  saveCheckpoint(f.weights, { meta: { kind: 'polynas-architecture-weights', backbone: net.arch }, tensors: net.stateDict() });
}

/**
 * Reads and validates an `architecture.json` (format 1 files are upgraded), naming the file and
 * every bad field.
 *
 * @example
 * ```ts
 * const arch = readArchitecture('runs/s/architecture.json');
 * arch.relus.total;
 * ```
 */
export function readArchitecture(path: string): Architecture {
  const file = architectureFiles(path).json;
  const json = readJsonFile(file, 'architecture');
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== ARCHITECTURE_FORMAT) throw new Error(`${file}: not a polynas architecture (format '${String(format)}')`);
  return parseWith(architectureSchema(), upgradeArchitecture(json), file);
}

/**
 * Rebuilds an exported network: the backbone, gates from the embedded space, the weights, and every
 * site's decisions as exported. Evaluating it reproduces the exported network's accuracy. The ReLU
 * count is measured again on the deployed form: a file whose count differs (one written before the
 * stem ReLU was counted) gets the measured count, and a warning names the file and both numbers.
 *
 * @example
 * ```ts
 * const { net, gates, arch: checked } = await rebuildArchitecture(readArchitecture('runs/s/architecture.json'), 'runs/s/architecture.weights.bin');
 * ```
 */
export async function rebuildArchitecture(arch: Architecture, weightsFile: string, source = weightsFile): Promise<{ net: Backbone; gates: PlacedGate[]; arch: Architecture }> {
  const net = createBackbone(arch.backbone, { numClasses: arch.numClasses, inputShape: arch.inputShape });
  try {
    const sites = Object.values(arch.sites);
    const kinds = new Set(sites.map((s) => s.gate));
    if (kinds.size !== 1) throw new Error(`${weightsFile}: the architecture's sites mix gate kinds (${[...kinds].join(', ')})`);
    const rule = sites.flatMap((s) => (s.gate === 'mask' && s.rule ? [s.rule] : []))[0];
    const gates = await buildSupernet(net, arch.space, { gate: [...kinds][0]!, seed: arch.seed, ...(rule ? { rule } : {}) });
    if (!existsSync(weightsFile)) throw new Error(`${weightsFile}: missing weights file`);
    net.loadStateDict(loadCheckpoint(weightsFile)!.tensors);
    for (const { path, gate } of gates) {
      const site = arch.sites[path];
      if (!site) throw new Error(`${weightsFile}: the architecture has no entry for site '${path}'`);
      gate.restore(site);
    }
    return { net, gates, arch: recounted(arch, net, source) };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** The architecture with its count measured on the rebuilt network (warning when the file said otherwise). */
function recounted(arch: Architecture, net: Backbone, file: string): Architecture {
  const m = measureDeployed(net);
  if (m.relus === arch.relus.total && arch.relus.maxPoolComparisons !== undefined) return arch;
  if (m.relus !== arch.relus.total) {
    process.emitWarning(`${file}: the architecture records ${arch.relus.total} ReLUs but its network evaluates ${m.relus} (a count written before polynas counted the stem ReLU); using ${m.relus}`, 'PolynasCountWarning');
  }
  const counted = m.relus + (arch.relus.budgetIncludesMaxPool ? m.comparisons : 0);
  const budgetMet = arch.budget !== undefined ? { budgetMet: counted <= arch.budget } : {};
  const perPool = m.perSite.filter((s) => s.comparisons > 0).map((s) => ({ path: s.path, comparisons: s.comparisons }));
  return { ...arch, relus: { ...arch.relus, total: m.relus, ...budgetMet, maxPoolComparisons: m.comparisons, perPool } };
}

/**
 * Reads and rebuilds `<base>.json` + `<base>.weights.bin` in one call.
 *
 * @example
 * ```ts
 * const { net, arch } = await loadArchitecture('runs/s/architecture.json');
 * ```
 */
export async function loadArchitecture(base: string): Promise<{ arch: Architecture; net: Backbone; gates: PlacedGate[] }> {
  const files = architectureFiles(base);
  return rebuildArchitecture(readArchitecture(base), files.weights, files.json);
}
