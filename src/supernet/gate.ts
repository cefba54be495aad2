import type { tf } from '../engine/tf.js';
import type { Module } from '../nn/module.js';
import type { SecureOpCounter } from '../nn/metered.js';
import type { ArchitectureSite } from '../spec/architecture.js';
import type { SiteChoice } from '../latency/network.js';

/** The two gate families: per-element masks (AutoReP, SNL) and DARTS softmax mixtures. */
export const GATE_KINDS = ['mask', 'darts'] as const;
export type GateKind = (typeof GATE_KINDS)[number];

/**
 * What the search loop, the budget projection, the latency model and the export need of a gate at
 * a site, whatever its kind. Search strategies and the export see gates only through this.
 */
export interface Gate extends Module {
  readonly gateKind: GateKind;
  /** Mask gates: the rule by which α decides (`hysteresis`, `continuous`). */
  readonly ruleName?: string;
  readonly siteKind: 'activation' | 'pool';
  /** Per-sample input shape at the site. */
  readonly siteShape: readonly number[];
  /** Elements per sample at the site. */
  siteSize(): number;
  /** Elements governed by one decision. */
  unitSize(): number;
  /** ReLUs this gate keeps at most (0 when ReLU is not a candidate). */
  searchableRelus(): number;
  /** ReLUs per sample under the current decisions. */
  reluCount(): number;
  /** Differentiable ReLU measure of the search losses. */
  expectedRelus(): tf.Scalar;
  /** Budget projection: one score per decision unit (higher keeps the ReLU; −∞ never kept). */
  scores(): Float32Array | Float64Array;
  /** Fixes the decisions (1 = keep the ReLU per unit). */
  freeze(keep: ArrayLike<number>): void;
  readonly isFrozen: boolean;
  /** The operator the latency model prices at this site, with the kept ReLUs of a partial mask. */
  costChoice(): SiteChoice;
  /** Serialization into `architecture.json`. */
  toSite(): ArchitectureSite;
  /** Restores the decisions of a serialized site (the weights come from the weights file). */
  restore(site: ArchitectureSite): void;
  /**
   * The site's operator as a 2PC runtime evaluates the frozen decisions, with its ReLUs (and max-pool
   * comparisons) metered into `counter`. Its output equals the gate's eval-mode output.
   */
  deployed(counter: SecureOpCounter): Module;
  /** Host-side state a resumed search needs (beyond the gate's tensors), e.g. statistics counters. */
  hostState?(): Record<string, number>;
  restoreHostState?(s: Record<string, number>): void;
}

/** A gate placed at a site of a network. */
export interface PlacedGate<G extends Gate = Gate> {
  path: string;
  gate: G;
}

/**
 * ReLUs the gates can keep at most (with the ReLUs outside them, the budget's denominator).
 *
 * @example
 * ```ts
 * searchableRelus(gates); // 172032 for ResNet-20's pixel space
 * ```
 */
export function searchableRelus(gates: readonly PlacedGate[]): number {
  return gates.reduce((a, g) => a + g.gate.searchableRelus(), 0);
}

/** ReLUs per sample the gates keep now. */
export function keptRelus(gates: readonly PlacedGate[]): number {
  return gates.reduce((a, g) => a + g.gate.reluCount(), 0);
}

/** Each gate's latency choice by site path (input of `costLayers`). */
export function costChoices(gates: readonly PlacedGate[]): Record<string, SiteChoice> {
  return Object.fromEntries(gates.map((g) => [g.path, g.gate.costChoice()]));
}
