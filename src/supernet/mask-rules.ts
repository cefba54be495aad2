import { tf } from '../engine/tf.js';
import type { MaskGate } from './mask-gate.js';

/**
 * How a mask gate's architecture variable α decides between ReLU and the cheap operator while the
 * search runs (once frozen, every rule uses the binary mask).
 */
export interface MaskRule {
  readonly name: 'hysteresis' | 'continuous';
  /** Initial α of decision `i` (`rand()` draws from the gate's seeded U(0,1)). */
  initAlpha(rand: () => number): number;
  /** The mixing mask of a forward pass (the rule may update the binary mask first). */
  forwardMask(gate: MaskGate, training: boolean): tf.Tensor;
  /** Differentiable ReLU measure of the search loss. */
  expectedRelus(gate: MaskGate): tf.Scalar;
  /** ReLUs per sample under the current α. */
  reluCount(gate: MaskGate): number;
  /** Budget-projection scores per decision (higher keeps the ReLU; −∞ never kept). */
  scores(gate: MaskGate): Float32Array | Float64Array;
}

/**
 * AutoReP: a binary mask driven by α through a hysteresis band (where m = 1, m ← [α > −t]; where
 * m = 0, m ← [α > t]) with a straight-through gradient softplus(α)·∂L/∂m; α starts U(0,1).
 */
export const hysteresisSte: MaskRule = {
  name: 'hysteresis',
  initAlpha: (rand) => rand(),
  forwardMask(gate, training) {
    if (!training) return gate.mask;
    gate.updateMask();
    return gate.steMask();
  },
  expectedRelus: (gate) => tf.tidy(() => tf.mul(tf.sum(gate.steMask()), gate.unitSize()) as tf.Scalar),
  reluCount: (gate) => tf.tidy(() => tf.sum(gate.mask).dataSync()[0]!) * gate.unitSize(),
  // Ranked by (mask, α): every unit the search kept comes before every unit it replaced, so a
  // projection changes the trained network only where the budget forces it.
  scores: (gate) => {
    const m = gate.mask.dataSync();
    // Float64: 1e4 + α keeps α's float32 resolution (float32 spacing near 1e4 is ~1e-3, wider than the band).
    return Float64Array.from(gate.alpha.dataSync(), (a, i) => (m[i]! > 0.5 ? MASK_KEPT_OFFSET + a : a));
  },
};

/** Added to the score of a unit whose mask is 1 (far above any α a search reaches). */
export const MASK_KEPT_OFFSET = 1e4;

/** SNL's threshold: a decision counts as a ReLU while α > 0.01 (Cho et al., ICML'22). */
export const SNL_ALPHA_THRESHOLD = 0.01;

/**
 * SNL: the output mixes with α itself, `α·ReLU(x) + (1 − α)·op(x)`, α starts at 1 and is pushed
 * down by an L1 term; a decision counts as a ReLU while α > 0.01, and the projection keeps the
 * highest α among those.
 */
export const continuousL1: MaskRule = {
  name: 'continuous',
  initAlpha: () => 1,
  forwardMask: (gate) => gate.alpha,
  expectedRelus: (gate) => tf.tidy(() => tf.mul(tf.sum(tf.abs(gate.alpha)), gate.unitSize()) as tf.Scalar),
  reluCount: (gate) => tf.tidy(() => tf.sum(tf.step(tf.sub(gate.alpha, SNL_ALPHA_THRESHOLD))).dataSync()[0]!) * gate.unitSize(),
  scores: (gate) => (gate.alpha.dataSync() as Float32Array).map((a) => (a > SNL_ALPHA_THRESHOLD ? a : -Infinity)),
};

/** The mask rules by name. */
export const MASK_RULES = { hysteresis: hysteresisSte, continuous: continuousL1 } as const;
export type MaskRuleName = keyof typeof MASK_RULES;
