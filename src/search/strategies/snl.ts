import { z } from 'zod';
import { tf } from '../../engine/tf.js';
import { batches } from '../../data/loader.js';
import { crossEntropy, distillationLoss } from '../../train/losses.js';
import { Adam } from '../../train/optim.js';
import { projectAndFreeze } from '../budget.js';
import type { SearchContext, SearchStrategy, StepInput } from '../strategy.js';
import { AugmentSetting, budgetedSearchFields, distillationFields, resolveAugment, singleStream } from './common.js';
import { expectedMaskLatency, maskLatencyFields, maskLatencyModel, type MaskLatency } from './mask-latency.js';
import type { MaskGate } from '../../supernet/mask-gate.js';
import type { PlacedGate } from '../../supernet/gate.js';

/** λ × 1.1 after an epoch in which the count did not improve (SNL's `args.alpha *= 1.1`). */
const LAMBDA_GROWTH = 1.1;

/** The `search` section of an SNL recipe (defaults from SNL's released scripts). */
export const SnlSection = z.strictObject({
  strategy: z.literal('snl'),
  /** `epochs` is the maximum: the search stops as soon as the count reaches the budget. */
  ...budgetedSearchFields,
  /** Adam learning rate of the weights. Default 1e-3 (SNL). */
  lr: z.number().positive().default(1e-3),
  /**
   * Adam learning rate of α. Default `lr` (as SNL). α starts at 1 and must fall below 0.01 to
   * remove a ReLU, so a short search needs a larger α rate than the weights.
   */
  alphaLr: z.union([z.number().positive(), z.literal('lr')]).default('lr'),
  /**
   * Initial λ of the L1 term λ·Σ|α| over the unnormalised α (SNL's `‖α‖₁`); ×1.1 after an epoch in
   * which the count did not improve. Default 1e-5, SNL's λ₀.
   */
  lambda: z.number().positive().default(1e-5),
  /** λ grows on a stalled count only from this (0-based) epoch on (SNL: `epoch >= 5`). Default 5. */
  lambdaGrowthFrom: z.number().int().min(0).default(5),
  ...distillationFields,
  ...maskLatencyFields,
  /** Augmentation of the search batches. Default `auto`: random crop (pad 4) and flip for images ≥ 32 pixels, as SNL's CIFAR loaders; none for smaller ones. */
  augment: AugmentSetting.default('auto'),
});
export type SnlSettings = z.output<typeof SnlSection>;

interface SnlState {
  ctx: SearchContext;
  s: SnlSettings;
  vars: tf.Variable[];
  /** Every gate's α (the L1 term's variables). */
  alphas: tf.Variable[];
  opt: Adam;
  alphaOpt: Adam;
  lambda: number;
  best: number;
  /** The latency term's model (when `latencyWeight` > 0). */
  latency?: MaskLatency;
}

function step(st: SnlState, [{ x, y }]: StepInput[]) {
  const { ctx, s } = st;
  const t = ctx.teacher?.forward(x);
  const { value, grads } = tf.variableGrads(() => {
    const logits = ctx.net.forward(x);
    let loss: tf.Tensor = crossEntropy(logits, y);
    if (t) loss = tf.add(loss, tf.mul(distillationLoss(logits, t, s.temperature), s.distillWeight));
    const l1 = tf.addN(st.alphas.map((a) => tf.sum(tf.abs(a))));
    if (st.latency) loss = tf.add(loss, tf.mul(expectedMaskLatency(st.latency, ctx.gates.map((g) => g.gate.expectedRelus())), s.latencyWeight));
    return tf.add(loss, tf.mul(l1, st.lambda)) as tf.Scalar;
  }, st.vars);
  // Each optimizer updates only its own collection (weights, then α).
  st.opt.step(grads, s.lr);
  st.alphaOpt.step(grads, s.alphaLr === 'lr' ? s.lr : s.alphaLr);
  // The loss is read every step so that a diverging search stops at once (SearchDivergedError).
  return { loss: value.dataSync()[0]! };
}

/**
 * SNL (Cho et al., ICML'22): continuous α per pixel or channel (mask gates with the `continuous`
 * rule), loss `CE + KD + λ·Σ|α|`; after each epoch the count #(α > 0.01) is taken, λ grows by 1.1
 * when the count did not improve (from epoch 5 on), and the search stops once count ≤ B. Then the α above 0.01 are
 * projected exactly onto the budget (highest kept) and frozen.
 */
export const snl: SearchStrategy<SnlSettings, SnlState> = {
  name: 'snl',
  summary: 'SNL: continuous α with an L1 penalty grown on stalls, stopped at the budget',
  section: SnlSection,
  gate: 'mask',
  maskRule: 'continuous',
  needsBudget: true,
  stepsPerEpoch: (ctx, s) => Math.floor(ctx.data.train.labels.length / s.batchSize),
  normalize: (s, env) => ({ ...s, augment: resolveAugment(s.augment, env.imageShape) }),
  batches: ({ ctx, s }, epoch) => {
    const augment = resolveAugment(s.augment, ctx.data.train.shape);
    return singleStream(batches(ctx.data.train, { batchSize: s.batchSize, norm: ctx.data.norm, shuffle: true, seed: ctx.seed, epoch, dropLast: true, ...(augment ? { augment } : {}) }));
  },
  init(ctx, s) {
    const weights = ctx.net.namedParameters('weight');
    const alphas = ctx.net.namedParameters('arch');
    return {
      ctx, s, vars: [...weights, ...alphas].map(([, v]) => v), alphas: alphas.map(([, v]) => v),
      opt: new Adam(weights, { type: 'adam' }), alphaOpt: new Adam(alphas, { type: 'adam' }),
      lambda: s.lambda, best: Infinity,
      ...(s.latencyWeight > 0 ? { latency: maskLatencyModel(ctx, ctx.gates as readonly PlacedGate<MaskGate>[], s.latencySmoothing) } : {}),
    };
  },
  step,
  epochEnd(st, { epoch, count }) {
    if (count >= st.best && epoch >= st.s.lambdaGrowthFrom) st.lambda *= LAMBDA_GROWTH;
    st.best = Math.min(st.best, count);
    return { details: { lambda: st.lambda }, stop: count <= st.ctx.budget! };
  },
  discretize: (st, budget) => void projectAndFreeze(st.ctx.gates, budget!),
  resolved: (st) => ({ alphaLr: st.s.alphaLr === 'lr' ? st.s.lr : st.s.alphaLr }),
  snapshot: (st) => ({ optimizers: { weights: st.opt.state(), alpha: st.alphaOpt.state() }, values: { lambda: st.lambda, best: st.best } }),
  restore(st, snap) {
    st.opt.loadState(snap.optimizers.weights!);
    st.alphaOpt.loadState(snap.optimizers.alpha!);
    st.lambda = snap.values.lambda!;
    st.best = snap.values.best ?? Infinity;
  },
  dispose(st) {
    st.opt.dispose();
    st.alphaOpt.dispose();
  },
};
