import { z } from 'zod';
import { tf } from '../../engine/tf.js';
import { resolveNetwork } from '../../latency/cost.js';
import { costPerElement } from '../../latency/expected.js';
import { costLayers } from '../../latency/network.js';
import { getOp } from '../../ops/index.js';
import type { MaskGate } from '../../supernet/mask-gate.js';
import type { PlacedGate } from '../../supernet/gate.js';
import type { SearchContext } from '../strategy.js';

/** Fields of a mask search's optional latency term (AutoReP, SNL). */
export const maskLatencyFields = {
  /**
   * λ_lat: weight of the expected 2PC latency of the gated layers (relative to their all-ReLU
   * latency) in the search loss. Each layer pays bytes per kept ReLU plus its comparison rounds
   * weighted by a smooth "this layer still has ReLUs" indicator, so the term trades ReLUs against
   * rounds and gathers the kept ReLUs into fewer layers. Default 0 (the count alone).
   */
  latencyWeight: z.number().min(0).default(0),
  /** Width of the indicator tanh(k / (w·N_layer)) as a fraction w of the layer's size: wide enough that a layer keeping a few percent of its ReLUs still feels its rounds. Default 0.25. */
  latencySmoothing: z.number().positive().default(0.25),
};

/** Per gate: the affine cost of its ReLU part and of its cheap part, and its size. */
interface GateLatency {
  relu: { fixed: number; perElement: number };
  alt: { fixed: number; perElement: number };
  size: number;
}

/** The latency model of a mask search's gated layers under the recipe's table and network. */
export interface MaskLatency {
  gates: GateLatency[];
  /** Latency of the gated layers with every ReLU kept (the term's normaliser). */
  reference: number;
  smoothing: number;
}

/**
 * Prices every gated layer with the recipe's latency table: ReLU and the cheap operator, each as
 * `fixed + perElement·n` (fixed: the layer's rounds and per-call cost, paid once the layer evaluates
 * any element). Throws when the search has no table.
 */
export function maskLatencyModel(ctx: SearchContext, gates: readonly PlacedGate<MaskGate>[], smoothing: number): MaskLatency {
  if (!ctx.latency) throw new Error('a latency term needs the recipe\'s latency table (latency.table)');
  const { table } = ctx.latency;
  const network = resolveNetwork(table, ctx.latency.network ? { network: ctx.latency.network } : {});
  const layers = costLayers(ctx.net, Object.fromEntries(gates.map((g) => [g.path, { op: 'relu' }])));
  const model = gates.map(({ path, gate }) => {
    const layer = layers.find((l) => l.path === path)!;
    const alt = getOp(gate.alt.opId!).costOp;
    return { relu: costPerElement(layer, 'relu', table, network), alt: costPerElement(layer, alt, table, network), size: gate.siteSize() };
  });
  const reference = model.reduce((a, g) => a + g.relu.fixed + g.relu.perElement * g.size, 0) || 1;
  return { gates: model, reference, smoothing };
}

/**
 * Differentiable expected latency of the gated layers over the reference, from each gate's
 * differentiable kept count k: Σ relu.perElement·k + relu.fixed·tanh(k/τ) + alt.perElement·(N − k)
 * + alt.fixed·tanh((N − k)/τ), τ = smoothing·N. With a binary mask it is within the indicator's
 * smoothing of the exported cost of those layers.
 */
export function expectedMaskLatency(m: MaskLatency, kept: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const terms = kept.map((k, i) => {
      const g = m.gates[i]!;
      const tau = m.smoothing * g.size;
      const rest = tf.sub(g.size, k);
      return tf.addN([
        tf.mul(k, g.relu.perElement), tf.mul(tf.tanh(tf.div(k, tau)), g.relu.fixed),
        tf.mul(rest, g.alt.perElement), tf.mul(tf.tanh(tf.div(rest, tau)), g.alt.fixed),
      ]);
    });
    return tf.div(tf.addN(terms), m.reference) as tf.Scalar;
  });
}
