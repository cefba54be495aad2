import { tf } from '../engine/tf.js';
import { layerCost, unpricedReason } from './cost.js';
import type { CostLayer } from './network.js';
import type { LatencyTable, NetworkSetting } from './schema.js';

/** Options of {@link candidateCosts}. */
export interface CandidateCostOptions {
  /** Price a candidate the table cannot price at 0 instead of throwing (a recipe's `latency.allowUnpriced`). */
  allowUnpriced?: boolean;
}

/**
 * Costs (ms or relative units) of each candidate operator at one site, from the same per-layer
 * model as {@link networkCost}, so that the search loss and the exported prediction agree. A
 * candidate the table cannot price (no entry, an `unavailable` entry, or a composed entry with such a
 * term) is an error, since the search would otherwise treat it as free; `allowUnpriced` prices it at 0.
 *
 * @example
 * ```ts
 * candidateCosts(layer, ['relu', 'x2act'], loadLatencyTable('pasnet-dac2023-code')); // [13.6·N + 0.4, 0.03·N + 0.2]
 * candidateCosts(layer, ['relu', 'x2act'], loadLatencyTable('sci-he-r50'), wan); // throws: x2act is unavailable
 * ```
 */
export function candidateCosts(site: CostLayer, candidates: readonly string[], table: LatencyTable, network?: NetworkSetting, opts: CandidateCostOptions = {}): number[] {
  return candidates.map((op) => {
    const c = layerCost({ ...site, op }, table, network);
    if (!c.modelled && !opts.allowUnpriced) {
      const why = unpricedReason(op, table, c.note);
      throw new Error(`latency table '${table.id}' cannot price candidate '${op}' at site '${site.path}' (${why}); choose a table that prices it or set latency.allowUnpriced`);
    }
    return c.time;
  });
}

/**
 * Affine form `cost(n) = fixed + perElement·n` of an operator at a site as a function of the number
 * of elements it processes (for pixel/channel masks, n = expected kept elements). Exact for linear
 * and analytic entries, whose cost is affine in n for n ≥ 1.
 */
export function costPerElement(site: CostLayer, op: string, table: LatencyTable, network?: NetworkSetting): { fixed: number; perElement: number } {
  const at = (n: number) => layerCost({ ...site, op, sizes: { ...site.sizes, inElements: n, outElements: n, outWindows: n } }, table, network).time;
  const c1 = at(1);
  const perElement = at(2) - c1;
  return { fixed: c1 - perElement, perElement };
}

/** A gate: probabilities over its candidates (differentiable) and each candidate's cost (constants). */
export interface GateCost {
  probs: tf.Tensor;
  costs: readonly number[];
}

/**
 * Differentiable expected cost `Σ_gates Σ_k p_k · cost_k` (PASNet's latency term). With one-hot
 * probabilities it equals the discrete network's cost of those sites.
 *
 * @example
 * ```ts
 * const lat = expectedCost([{ probs: tf.softmax(theta), costs: candidateCosts(site, ['relu', 'x2act'], table) }]);
 * ```
 */
export function expectedCost(gates: readonly GateCost[]): tf.Scalar {
  return tf.tidy(() => {
    if (gates.length === 0) return tf.scalar(0);
    const terms = gates.map((g) => {
      if (g.probs.size !== g.costs.length) throw new Error(`expectedCost: gate has ${g.probs.size} probabilities but ${g.costs.length} costs`);
      return tf.sum(tf.mul(tf.reshape(g.probs, [-1]), tf.tensor1d(g.costs as number[])));
    });
    return tf.addN(terms) as tf.Scalar;
  });
}
