import { z } from 'zod';
import { tf } from '../../engine/tf.js';
import { batches } from '../../data/loader.js';
import type { MaskGate } from '../../supernet/mask-gate.js';
import type { PlacedGate } from '../../supernet/gate.js';
import { crossEntropy, distillationLoss } from '../../train/losses.js';
import { Adam } from '../../train/optim.js';
import { learningRate } from '../../train/schedule.js';
import { projectAndFreeze } from '../budget.js';
import type { SearchContext, SearchStrategy, StepInput, StepInfo } from '../strategy.js';
import { AugmentSetting, budgetedSearchFields, distillationFields, resolveAugment, singleStream } from './common.js';

/**
 * Default DaPa damping of AutoReP searches: c0 × 1/5 and c2 × 1/10, as AutoReP's released code. An
 * undamped L2 fit of ReLU makes the quadratics steep enough that a ResNet's residual stream blows up
 * once a few percent of its ReLUs are replaced (ResNet-20, CIFAR-10 subset, 60 steps at a 5 %
 * budget: search loss ~1e5 and 9 % test accuracy undamped, ~3 and 45 % damped).
 */
export const AUTOREP_DAPA_DAMPING: readonly number[] = [0.2, 1, 0.1];

/** λ grows ×1.2 per step while the count overshoots the target by > 2 %, up to 1e6 (and shrinks back likewise). */
const LAMBDA_RATE = 1.2;
const LAMBDA_MAX = 1e6;
const GAP = 0.02;

/** The `search` section of an AutoReP recipe (defaults from the AutoReP CIFAR scripts where they exist). */
export const AutorepSection = z.strictObject({
  strategy: z.literal('autorep'),
  ...budgetedSearchFields,
  /** Adam learning rate of the weights, cosine-decayed to `minLr`. Default 1e-3 → 1e-5 (AutoReP). */
  lr: z.number().positive().default(1e-3),
  minLr: z.number().min(0).default(1e-5),
  /**
   * Adam learning rate of α_aux (constant). Default `auto`: max(lr, 2/annealSteps); Adam moves each α
   * by about its learning rate per step, so an α initialised in U(0,1) crosses the hysteresis band
   * within the annealing phase however short the search is. The value used is in `resolved.alphaLr`.
   */
  alphaLr: z.union([z.number().positive(), z.literal('auto')]).default('auto'),
  /** Initial weight λ of the budget hinge; then adapted every step (×1.2 while the count overshoots the target, up to 1e6). Default 5. */
  lambda: z.number().positive().default(5),
  /** Fraction of the search over which the target is annealed linearly from all ReLUs down to B (then held). Default 0.6. */
  annealFraction: z.number().gt(0).max(1).default(0.6),
  ...distillationFields,
  /** Re-fit polynomial coefficients by DaPa every this many steps (AutoReP: 10; 0: never; a space with `poly.dapa: false` sets 0). */
  dapaEvery: z.number().int().min(0).default(10),
  /** … until this step. Default 500. */
  dapaUntil: z.number().int().min(0).default(500),
  /** Multipliers of the DaPa coefficients c0, c1, c2, …; absent: the space's `poly.damping`, else {@link AUTOREP_DAPA_DAMPING}. */
  dapaDamping: z.array(z.number()).optional(),
  /** Hysteresis half-width t of the masks (AutoReP: 0.003). */
  threshold: z.number().positive().default(0.003),
  /** Augmentation of the search batches. Default `auto`: random crop (pad 4) and flip for images ≥ 32 pixels, as AutoReP's CIFAR scripts; none for smaller ones. */
  augment: AugmentSetting.default('auto'),
});
export type AutorepSettings = z.output<typeof AutorepSection>;

interface AutorepState {
  ctx: SearchContext;
  s: AutorepSettings;
  gates: readonly PlacedGate<MaskGate>[];
  vars: tf.Variable[];
  opt: Adam;
  alphaOpt: Adam;
  schedule: { type: 'cosine'; lr: number; minLr: number };
  alphaLr: number;
  annealSteps: number;
  lambda: number;
  /** The annealed target of the last step. */
  target: number;
  damping: readonly number[];
}

/** Calibrates the gates' input statistics on a first batch before the first DaPa fit (BatchNorm statistics untouched: the rest of the net runs in eval). */
function calibrate(st: AutorepState, x: tf.Tensor): void {
  st.ctx.net.eval();
  for (const g of st.gates) {
    g.gate.train();
    g.gate.collectStatistics(true);
  }
  st.ctx.net.forward(x);
  st.ctx.net.train();
}

/** DaPa re-fits while `step ≤ dapaUntil`, every `dapaEvery` steps; statistics are collected only then. */
function dapa(st: AutorepState, x: tf.Tensor, step: number): void {
  const active = st.s.dapaEvery !== 0 && step <= st.s.dapaUntil;
  if (active && step === 0) calibrate(st, x);
  if (active && step % st.s.dapaEvery === 0) for (const g of st.gates) g.gate.refreshDapa(st.damping);
  for (const g of st.gates) g.gate.collectStatistics(active);
}

function step(st: AutorepState, [{ x, y }]: StepInput[], info: StepInfo) {
  const { ctx, s } = st;
  const B = ctx.budget!;
  const target = B + (ctx.searchable - B) * Math.max(0, 1 - info.step / st.annealSteps);
  st.target = target;
  dapa(st, x, info.step);
  const lr = learningRate(st.schedule, info.step, info.totalSteps);
  const lambda = st.lambda;
  const teacherLogits = ctx.teacher?.forward(x);
  let kept: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = ctx.net.forward(x);
    let loss: tf.Tensor = crossEntropy(logits, y);
    if (teacherLogits) loss = tf.add(loss, tf.mul(distillationLoss(logits, teacherLogits, s.temperature), s.distillWeight));
    kept = tf.keep(tf.addN(st.gates.map((g) => g.gate.expectedRelus())));
    const hinge = tf.relu(tf.div(tf.sub(kept, target), ctx.searchable));
    return tf.add(loss, tf.mul(hinge, lambda)) as tf.Scalar;
  }, st.vars);
  // Weight step and architecture step: AutoReP trains both jointly on the same batch.
  st.opt.step(grads, lr);
  st.alphaOpt.step(grads, st.alphaLr);
  // [loss, kept ReLUs of this step's masks]: one read per step for the loss and the λ update.
  const [loss, count] = Array.from(tf.stack([value, kept!]).dataSync()) as [number, number];
  kept!.dispose();
  // λ follows the gap: per-pixel hinge gradients are λ/N, so a short search on a large network needs
  // λ in the thousands; growing every step gets there in tens of steps, where AutoReP's fixed
  // hand-set λ needs 200 epochs.
  if (count > target * (1 + GAP)) st.lambda = Math.min(st.lambda * LAMBDA_RATE, LAMBDA_MAX);
  else if (count < target * (1 - GAP)) st.lambda = Math.max(s.lambda, st.lambda / LAMBDA_RATE);
  return { loss, count, target };
}

/**
 * AutoReP (Peng et al., ICCV'23): masks with hysteresis and a straight-through gradient, trained
 * jointly with the weights under `CE + KD + λ·max(0, Σm − target)/N`, polynomials DaPa-initialised
 * from the site statistics. polynas differs from the paper in two ways that remove hand tuning: the
 * target is annealed from N to B over the search, and λ adapts to the gap; at the end the masks are
 * projected exactly onto the budget (count ≤ B) and frozen.
 */
export const autorep: SearchStrategy<AutorepSettings, AutorepState> = {
  name: 'autorep',
  summary: 'AutoReP masks (hysteresis, straight-through) with DaPa polynomials and an annealed budget hinge',
  section: AutorepSection,
  gate: 'mask',
  maskRule: 'hysteresis',
  needsBudget: true,
  supernet: (s) => ({ threshold: s.threshold }),
  normalize(s, env) {
    const poly = env.space.activation?.poly;
    return {
      ...s,
      augment: resolveAugment(s.augment, env.imageShape),
      ...(poly?.dapa === false ? { dapaEvery: 0 } : {}),
      dapaDamping: s.dapaDamping ?? poly?.damping ?? [...AUTOREP_DAPA_DAMPING],
    };
  },
  stepsPerEpoch: (ctx, s) => Math.floor(ctx.data.train.labels.length / s.batchSize),
  batches: ({ ctx, s }, epoch) => {
    const augment = resolveAugment(s.augment, ctx.data.train.shape);
    return singleStream(batches(ctx.data.train, { batchSize: s.batchSize, norm: ctx.data.norm, shuffle: true, seed: ctx.seed, epoch, dropLast: true, ...(augment ? { augment } : {}) }));
  },
  init(ctx, s, steps) {
    const weights = ctx.net.namedParameters('weight');
    const alphas = ctx.net.namedParameters('arch');
    const annealSteps = Math.max(1, Math.round(s.annealFraction * steps.total));
    return {
      ctx, s, gates: ctx.gates as readonly PlacedGate<MaskGate>[], // an autorep supernet holds mask gates (gate: 'mask')
      vars: [...weights, ...alphas].map(([, v]) => v),
      opt: new Adam(weights, { type: 'adam' }),
      alphaOpt: new Adam(alphas, { type: 'adam' }),
      schedule: { type: 'cosine', lr: s.lr, minLr: s.minLr },
      alphaLr: s.alphaLr === 'auto' ? Math.max(s.lr, 2 / annealSteps) : s.alphaLr,
      annealSteps,
      lambda: s.lambda,
      target: ctx.searchable,
      damping: s.dapaDamping ?? AUTOREP_DAPA_DAMPING,
    };
  },
  step,
  epochEnd: (st) => ({ details: { target: st.target, lambda: st.lambda } }),
  discretize: (st, budget) => void projectAndFreeze(st.gates, budget!),
  resolved: (st) => ({ alphaLr: st.alphaLr, annealSteps: st.annealSteps }),
  dispose(st) {
    st.opt.dispose();
    st.alphaOpt.dispose();
  },
};
