import type { Backbone } from '../backbones/backbone.js';
import { searchableRelus, type Gate, type PlacedGate } from '../supernet/gate.js';

/** What the exact projection needs of a gate. */
export type BudgetGate = Pick<Gate, 'scores' | 'unitSize'>;

/**
 * Absolute ReLU budget: values ≥ 1 are counts, values in (0, 1) a fraction of `total` (rounded
 * down), 0 replaces every searchable ReLU.
 *
 * @example
 * ```ts runnable
 * resolveBudget(0.05, 172_032); // 8601
 * resolveBudget(12_900, 491_520); // 12900
 * resolveBudget(0, 6_508); // 0: all-polynomial
 * ```
 */
export function resolveBudget(budget: number, total: number): number {
  if (!(budget >= 0) || !Number.isFinite(budget)) throw new RangeError(`budget must be a count ≥ 0 or a fraction in (0, 1), got ${budget}`);
  const b = budget < 1 ? Math.floor(budget * total) : Math.floor(budget);
  if (b > total) throw new RangeError(`budget ${b} exceeds the network's ${total} ReLUs`);
  return b;
}

/** What a ReLU budget is measured against (with `countMaxPool`, max-pool comparisons count as ReLUs do). */
export interface BudgetBasis {
  /** ReLU evaluations per sample of the network with every gate keeping its ReLUs: the denominator of a fractional budget. */
  network: number;
  /** ReLUs outside the gates (sites the space leaves out): they stay, and count against every budget. */
  fixed: number;
  /** ReLUs the gates decide: `network − fixed`. */
  searchable: number;
}

/**
 * The network's ReLUs split into those the gates decide and those they leave in place.
 *
 * @example
 * ```ts
 * const gates = await buildSupernet(net, { ...space, activation: { ...space.activation, includeStem: false } }, { gate: 'mask', seed: 0 });
 * budgetBasis(net, gates); // { network: 188416, fixed: 16384, searchable: 172032 } for ResNet-20
 * ```
 */
export function budgetBasis(net: Backbone, gates: readonly PlacedGate[], opts: { countMaxPool?: boolean } = {}): BudgetBasis {
  const gated = new Set(gates.map((g) => g.path));
  const fixed = net.reluCount().perSite.filter((s) => !gated.has(s.path)).reduce((a, s) => a + s.relus + (opts.countMaxPool ? s.comparisons : 0), 0);
  const searchable = searchableRelus(gates);
  return { network: fixed + searchable, fixed, searchable };
}

/**
 * Resolves a requested budget against the whole network (a fraction is of all its ReLUs) and the
 * gates' share of it: `gates = budget − fixed`. Throws when the ReLUs outside the gates alone exceed it.
 *
 * @example
 * ```ts runnable
 * networkBudget(0.01, { network: 188_416, fixed: 0, searchable: 188_416 }); // { budget: 1884, gates: 1884 }
 * networkBudget(20_000, { network: 188_416, fixed: 16_384, searchable: 172_032 }); // { budget: 20000, gates: 3616 }
 * ```
 */
export function networkBudget(requested: number, basis: BudgetBasis): { budget: number; gates: number } {
  const budget = resolveBudget(requested, basis.network);
  if (budget < basis.fixed) {
    throw new RangeError(`budget ${budget} is below the ${basis.fixed} ReLUs the search space leaves in place (sites outside it, e.g. a stem with includeStem: false); search them too or raise the budget`);
  }
  return { budget, gates: budget - basis.fixed };
}

/** Result of {@link projectToBudget}. */
export interface Projection {
  /** Per gate, 1 = keep the ReLU for each decision unit. */
  keep: Uint8Array[];
  /** ReLUs kept per sample (≤ budget). */
  count: number;
}

/**
 * Exact budget projection: keeps the decision units with the highest scores while the kept ReLU
 * count stays ≤ `budget` (a unit that does not fit is skipped and smaller ones are still tried), so
 * the discretized network never exceeds the budget. Ties break by gate, then unit order; a unit
 * scored −∞ is never kept.
 *
 * @example
 * ```ts
 * const { keep, count } = projectToBudget(gates.map((g) => g.gate), 12_900);
 * gates.forEach((g, i) => g.gate.freeze(keep[i]!));
 * ```
 */
export function projectToBudget(gates: readonly BudgetGate[], budget: number): Projection {
  const units: { g: number; u: number; score: number; size: number }[] = [];
  gates.forEach((gate, g) => {
    const s = gate.scores();
    const size = gate.unitSize();
    for (let u = 0; u < s.length; u++) if (s[u]! > -Infinity) units.push({ g, u, score: s[u]!, size });
  });
  units.sort((a, b) => b.score - a.score || a.g - b.g || a.u - b.u);
  const keep = gates.map((gate) => new Uint8Array(gate.scores().length));
  let count = 0;
  for (const unit of units) {
    if (count + unit.size > budget) continue;
    keep[unit.g]![unit.u] = 1;
    count += unit.size;
  }
  return { keep, count };
}

/**
 * Projects the gates' decisions exactly onto `budget` ({@link projectToBudget}) and freezes them.
 *
 * @example
 * ```ts
 * projectAndFreeze(gates, 12_900); // the network now keeps ≤ 12,900 ReLUs
 * ```
 */
export function projectAndFreeze(gates: readonly PlacedGate[], budget: number): number {
  const { keep, count } = projectToBudget(gates.map((g) => g.gate), budget);
  gates.forEach((g, i) => g.gate.freeze(keep[i]!));
  return count;
}
