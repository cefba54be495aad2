import type { Gate, PlacedGate } from '../supernet/gate.js';

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
  if (b > total) throw new RangeError(`budget ${b} exceeds the ${total} searchable ReLUs`);
  return b;
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
