import { evaluate as evalExpr } from 'mathjs';
import type { CostLayer } from './network.js';
import type { LatencyTable, NetworkSetting, OpCostModel } from './schema.js';

const TO_MS = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 } as const;

/** Raised when a table's cost model needs a network setting (bandwidth, round-trip time) it was not given. */
export class NetworkSettingError extends Error {
  override name = 'NetworkSettingError';
}

/** Cost of one layer under one table and network setting. */
export interface LayerCost {
  path: string;
  op: string;
  /** The size the cost scaled with. */
  n: number;
  /** Time in ms, or in relative units for a dimensionless table. */
  time: number;
  bytesUp: number;
  bytesDown: number;
  /** Bytes in both directions (including those a table gives only as a total). */
  bytes: number;
  rounds: number;
  /** False when the table does not model this operator (it then costs nothing). */
  modelled: boolean;
  note?: string;
}

/** Predicted cost of a whole network. */
export interface NetworkCost {
  table: string;
  network?: NetworkSetting;
  /** `ms`, or `relative` for a dimensionless table. */
  unit: 'ms' | 'relative';
  total: number;
  /** Same as `total` when `unit` is `ms`, else null. */
  totalMs: number | null;
  commBytes: number;
  rounds: number;
  perLayer: LayerCost[];
  /** Operators of this network that the table does not model, with how many layers use them. */
  unmodelled: Record<string, number>;
  /**
   * What the total leaves out, one sentence each, to print with it: linear layers the table does not
   * price, then any other unpriced operator with the table's reason. Empty when everything is priced.
   */
  caveats: string[];
}

/**
 * Resolves the network setting for a table: the named profile (default: the table's first), with
 * `bandwidthMbps` / `rttMs` overrides applied. Linear-fit tables need none.
 */
export function resolveNetwork(table: LatencyTable, opts: { network?: string; bandwidthMbps?: number; rttMs?: number } = {}): NetworkSetting | undefined {
  const profiles = table.networks ?? [];
  let base: NetworkSetting | undefined;
  if (opts.network) {
    base = profiles.find((p) => p.name === opts.network);
    if (!base) throw new Error(`table '${table.id}' has no network '${opts.network}'; known: ${profiles.map((p) => p.name).join(', ') || '(none)'}`);
  } else base = profiles[0];
  if (!base && opts.bandwidthMbps === undefined && opts.rttMs === undefined) return undefined;
  const out: NetworkSetting = { ...(base ?? { name: 'custom', rttMs: 0 }) };
  if (opts.bandwidthMbps !== undefined) {
    out.bandwidthMbps = opts.bandwidthMbps;
    delete out.upMbps;
    delete out.downMbps;
    out.name = `${out.name}+bw`;
  }
  if (opts.rttMs !== undefined) {
    out.rttMs = opts.rttMs;
    out.name = `${out.name}+rtt`;
  }
  return out;
}

function seconds(bytes: number, mbps: number | undefined, what: string, table: string): number {
  if (bytes === 0) return 0;
  if (!mbps) throw new NetworkSettingError(`table '${table}': ${what} traffic needs a bandwidth (a network profile, or a bandwidth override)`);
  return (bytes * 8) / (mbps * 1e6);
}

function needNetwork(net: NetworkSetting | undefined, table: string): NetworkSetting {
  if (!net) throw new NetworkSettingError(`table '${table}' is analytic: it needs a network setting (the table lists none; give a bandwidth and round-trip time)`);
  return net;
}

/**
 * Cost of one layer: linear fits give `a·n + b` in table units; analytic entries give
 * `rounds·RTT + bytes/bandwidth + compute·n + fixed` (a `bytesTotal` on an asymmetric link is split
 * evenly between the two directions); composed entries sum their terms.
 *
 * @example
 * ```ts
 * const table = loadLatencyTable('crypten-2pc-dealer');
 * const c = layerCost(costLayers(net)[0], table, resolveNetwork(table, { network: 'WAN' }));
 * ```
 */
export function layerCost(layer: CostLayer, table: LatencyTable, network?: NetworkSetting): LayerCost {
  const entry = table.ops[layer.op];
  const base = { path: layer.path, op: layer.op, bytesUp: 0, bytesDown: 0, bytes: 0, rounds: 0, time: 0 };
  if (!entry) return { ...base, n: layer.sizes.outElements, modelled: false, note: `not modelled by '${table.id}'` };
  return { ...base, ...opCost(entry, layer, table, network, [layer.op]), path: layer.path, op: layer.op };
}

function opCost(entry: OpCostModel, layer: CostLayer, table: LatencyTable, network: NetworkSetting | undefined, stack: string[]): PartialCost {
  const zero = { bytesUp: 0, bytesDown: 0, bytes: 0, rounds: 0, time: 0 };
  switch (entry.model) {
    case 'unavailable':
      return { ...zero, n: layer.sizes.outElements, modelled: false, note: entry.reason };
    case 'linear': {
      const n = layer.sizes[entry.per];
      const raw = entry.a * n + entry.b;
      const time = table.units.time === 'dimensionless' ? raw : raw * TO_MS[table.units.time];
      return { ...zero, n, time, modelled: true };
    }
    case 'analytic': {
      const n = layer.sizes[entry.per];
      if (n === 0) return { ...zero, n, modelled: true };
      const net = needNetwork(network, table.id);
      const total = (entry.bytesTotal ?? 0) * n;
      let up = (entry.bytesUp ?? 0) * n;
      let down = (entry.bytesDown ?? 0) * n;
      let commS: number;
      if (net.bandwidthMbps && !net.fullDuplex) commS = seconds(total + up + down, net.bandwidthMbps, 'symmetric', table.id);
      else {
        up += total / 2;
        down += total / 2;
        const upS = seconds(up, net.upMbps ?? net.bandwidthMbps, 'client→server', table.id), downS = seconds(down, net.downMbps ?? net.bandwidthMbps, 'server→client', table.id);
        commS = net.fullDuplex ? Math.max(upS, downS) : upS + downS;
      }
      const rounds = entry.rounds ?? 0;
      const s = rounds * (net.rttMs / 1e3) + commS + (entry.computeSecondsPerUnit ?? 0) * n + (entry.fixedSecondsPerCall ?? 0);
      const bytes = total + (entry.bytesUp ?? 0) * n + (entry.bytesDown ?? 0) * n;
      const split = !net.bandwidthMbps || net.fullDuplex;
      return { n, time: s * 1e3, bytesUp: split ? up : (entry.bytesUp ?? 0) * n, bytesDown: split ? down : (entry.bytesDown ?? 0) * n, bytes, rounds, modelled: true };
    }
    case 'composed':
      return composedCost(entry, layer, table, network, stack);
  }
}

type PartialCost = Omit<LayerCost, 'path' | 'op'>;

/** A composed term's mathjs expression (`multiplier` or `layers`) at this layer: a finite number ≥ 0. */
function termValue(expr: string, scope: Record<string, number>, table: LatencyTable): number {
  const v = Number(evalExpr(expr, scope));
  if (!Number.isFinite(v) || v < 0) throw new Error(`table '${table.id}': expression '${expr}' gives ${v} for ${JSON.stringify(scope)}`);
  return v;
}

/**
 * Sum of a composed entry's terms. Each term is one invocation of its sub-operator on `n·multiplier`
 * units, whose rounds count `layers` times (default 1; `sequentialRounds` means layers = multiplier).
 */
function composedCost(entry: Extract<OpCostModel, { model: 'composed' }>, layer: CostLayer, table: LatencyTable, network: NetworkSetting | undefined, stack: string[]): PartialCost {
  const acc: PartialCost = { bytesUp: 0, bytesDown: 0, bytes: 0, rounds: 0, time: 0, n: 0, modelled: true };
  const scope = { k: layer.kernel ?? 1, s: layer.stride ?? 1, cin: layer.cin ?? 0, cout: layer.cout ?? 0 };
  for (const t of entry.terms) {
    if (stack.includes(t.op)) throw new Error(`table '${table.id}': composed operator cycle ${[...stack, t.op].join(' → ')}`);
    const sub = table.ops[t.op];
    if (!sub) throw new Error(`table '${table.id}': composed term '${t.op}' of '${stack[stack.length - 1]}' is not in the table`);
    const mult = termValue(t.multiplier, scope, table);
    const depth = t.layers !== undefined ? termValue(t.layers, scope, table) : t.sequentialRounds ? mult : 1;
    const n = layer.sizes[t.per];
    const subLayer: CostLayer = { ...layer, op: t.op, sizes: Object.fromEntries(Object.keys(layer.sizes).map((k) => [k, n * mult])) as CostLayer['sizes'] };
    const c = opCost(sub, subLayer, table, network, [...stack, t.op]);
    if (c.rounds > 0 && depth < 1) throw new Error(`table '${table.id}': term '${t.op}' of '${stack[stack.length - 1]}' has ${n * mult} units in ${depth} layers for ${JSON.stringify(scope)}`);
    // One invocation of the sub-operator on n·mult units: its rounds repeat once per sequential layer.
    const extraRounds = c.rounds * (depth - 1);
    acc.time += c.time + extraRounds * (network ? network.rttMs : 0);
    acc.bytes += c.bytes;
    acc.bytesUp += c.bytesUp;
    acc.bytesDown += c.bytesDown;
    acc.rounds += c.rounds + extraRounds;
    acc.n = Math.max(acc.n, n);
    if (!c.modelled) {
      acc.modelled = false;
      acc.note = `${t.op}: ${c.note ?? 'not modelled'}`;
    }
  }
  return acc;
}

/**
 * Predicted 2PC cost of a discretized network: the sum of its layers' costs under one table and one
 * network setting, times `(1 − overlapFactor)`.
 *
 * @example
 * ```ts
 * const cost = networkCost(costLayers(net), loadLatencyTable('crypten-2pc-dealer'), { network: 'WAN' });
 * console.log(cost.totalMs, cost.commBytes, cost.rounds);
 * ```
 */
export function networkCost(layers: CostLayer[], table: LatencyTable, opts: { network?: string; bandwidthMbps?: number; rttMs?: number } = {}): NetworkCost {
  const network = resolveNetwork(table, opts);
  const perLayer = layers.map((l) => layerCost(l, table, network));
  // A mask site is two layers of one path (its ReLU part, then its cheap part); a runtime that runs
  // them concurrently spends the larger of their rounds only.
  let overlapRounds = 0;
  if (table.protocol.maskPartsConcurrent) {
    for (let i = 1; i < perLayer.length; i++) if (perLayer[i]!.path === perLayer[i - 1]!.path && layers[i - 1]!.op === 'relu') overlapRounds += Math.min(perLayer[i]!.rounds, perLayer[i - 1]!.rounds);
  }
  const keep = 1 - table.overlapFactor;
  const total = (perLayer.reduce((a, c) => a + c.time, 0) - overlapRounds * (network?.rttMs ?? 0)) * keep;
  const unmodelled: Record<string, number> = {};
  for (const c of perLayer) if (!c.modelled) unmodelled[c.op] = (unmodelled[c.op] ?? 0) + 1;
  const unit = table.units.time === 'dimensionless' ? 'relative' : 'ms';
  return {
    table: table.id,
    ...(network ? { network } : {}),
    unit,
    total,
    totalMs: unit === 'ms' ? total : null,
    commBytes: perLayer.reduce((a, c) => a + c.bytes, 0),
    rounds: perLayer.reduce((a, c) => a + c.rounds, 0) - overlapRounds,
    perLayer,
    unmodelled,
    caveats: costCaveats(perLayer, table),
  };
}

/** Affine layers, in forward order; the MAC-bearing ones decide whether a total covers "nonlinear layers only". */
const LINEAR_OPS = ['conv2d', 'dwconv2d', 'bn', 'fc'];
const MAC_OPS = ['conv2d', 'dwconv2d', 'fc'];

const times = (n: number) => (n === 1 ? '1 layer' : `${n} layers`);

/** Why the table leaves `op` out: no entry, its `unavailable` reason, or a composed term's note. */
export function unpricedReason(op: string, table: LatencyTable, note: string | undefined): string {
  const entry = table.ops[op];
  if (!entry) return 'no entry in the table';
  if (entry.model === 'unavailable') return `unavailable: ${entry.reason}`;
  return note ?? 'not modelled';
}

/**
 * Human-readable statements of what a cost leaves out (see {@link NetworkCost.caveats}).
 *
 * @example
 * ```ts
 * costCaveats(networkCost(costLayers(net), crypten).perLayer, crypten);
 * // ResNet-20: ["linear layers (conv2d ×21, fc ×1) are not priced by 'crypten-2pc-dealer': the total covers the nonlinear layers only"]
 * ```
 */
export function costCaveats(perLayer: readonly LayerCost[], table: LatencyTable): string[] {
  const count = new Map<string, { n: number; note?: string }>();
  for (const c of perLayer) {
    if (c.modelled) continue;
    const e = count.get(c.op) ?? { n: 0, note: c.note };
    e.n++;
    count.set(c.op, e);
  }
  const out: string[] = [];
  const linear = LINEAR_OPS.filter((op) => count.has(op));
  if (linear.length) {
    const pricedLinear = perLayer.some((c) => c.modelled && MAC_OPS.includes(c.op));
    const list = linear.map((op) => `${op} ×${count.get(op)!.n}`).join(', ');
    out.push(`linear layers (${list}) are not priced by '${table.id}': the total ${pricedLinear ? 'leaves them out' : 'covers the nonlinear layers only'}`);
  }
  for (const [op, { n, note }] of count) {
    if (LINEAR_OPS.includes(op)) continue;
    out.push(`'${op}' (${times(n)}) is not priced by '${table.id}' (${unpricedReason(op, table, note)}): the total leaves it out`);
  }
  return out;
}
