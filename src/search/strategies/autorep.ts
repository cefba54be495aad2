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
import { expectedMaskLatency, maskLatencyFields, maskLatencyModel, type MaskLatency } from './mask-latency.js';

/**
 * Default DaPa damping of AutoReP searches: c0 × 1/5 and c2 × 1/10, as AutoReP's released code. An
 * undamped L2 fit of ReLU makes the quadratics steep enough that a ResNet's residual stream blows up
 * once a few percent of its ReLUs are replaced (ResNet-20, CIFAR-10 subset, 60 steps at a 5 %
 * budget: search loss ~1e5 and 9 % test accuracy undamped, ~3 and 45 % damped).
 */
export const AUTOREP_DAPA_DAMPING: readonly number[] = [0.2, 1, 0.1];

/** The `search` section of an AutoReP recipe (defaults from the AutoReP CIFAR scripts where they exist). */
export const AutorepSection = z.strictObject({
  strategy: z.literal('autorep'),
  ...budgetedSearchFields,
  /** Adam learning rate of the weights, cosine-decayed to `minLr`. Default 1e-3 → 1e-5 (AutoReP). */
  lr: z.number().positive().default(1e-3),
  minLr: z.number().min(0).default(1e-5),
  /**
   * Adam learning rate of α_aux at the start. Default `auto`: 4·ln(N/B)/annealSteps, four times the speed at
   * which the α of a U(0,1) initialisation must fall for the count to follow the geometric target. The
   * value used is in `resolved.alphaLr`.
   */
  alphaLr: z.union([z.number().positive(), z.literal('auto')]).default('auto'),
  /**
   * How α's learning rate changes over the search: `count` (default) follows the weights' cosine times
   * the current count over N. Adam moves each α by about its rate per step, and the α left above the band
   * are about count/N of a unit interval, so the count then changes by a steady fraction per step (the
   * geometric target's pace) instead of overshooting a small budget by thousands per step; `cosine`
   * follows the weights' cosine alone (AutoReP's single optimizer).
   */
  alphaSchedule: z.enum(['count', 'cosine']).default('cosine'),
  /**
   * How the count meets the annealed target. `offset` (default): every step the hysteresis band moves by a
   * common offset c (m ← [α − c > ∓t]) chosen so that the count meets the target, the exact form of the
   * uniform drift that a dominant hinge gives every α under Adam; α then learns from the task alone, and
   * which units keep their ReLU is decided by the task. `pressure`: the budget term below with its
   * dual-ascent pressure (use `alphaSchedule: 'count'` with it).
   */
  budgetControl: z.enum(['offset', 'pressure']).default('offset'),
  /**
   * Weight λ of the budget term. Default `auto`: the term is the Lagrangian `λ·(Σm − target)/N` of
   * "count = target", with λ = ρ·λ_ref: λ_ref (re-measured every step) makes its gradient on α as large
   * as the task's in RMS, and the pressure ρ follows the count by bounded dual ascent, negative while
   * the count is under the target (so the count tracks the target from both sides and the projection
   * changes little). Adam normalises gradient scale, so only this ratio matters. A number: AutoReP's
   * hinge `λ·max(0, Σm − target)/N` with that fixed λ, as its scripts set per budget.
   */
  lambda: z.union([z.number().positive(), z.literal('auto')]).default('auto'),
  /** Upper bound of the pressure ρ (the term at most this many times the task gradient on α). Default 16. */
  pressureMax: z.number().positive().default(16),
  /** Lower bound of ρ (under the target: a pull back towards ReLU of at most this many task gradients). Default −1. */
  pressureMin: z.number().max(0).default(-1),
  /** Dual-ascent rate: ρ += rate·clip((count − target)/target, −1, 1) per step. Default 0.5. */
  pressureRate: z.number().positive().default(0.5),
  /** Fraction of the search over which the target is annealed from all ReLUs down to B (then held). Default 0.6. */
  annealFraction: z.number().gt(0).max(1).default(0.6),
  /**
   * Shape of the annealed target: `geometric` (log-count falls linearly: each decade gets equal time,
   * so the last one before a small budget is not rushed) or `linear` (in the count). Default geometric.
   */
  targetSchedule: z.enum(['geometric', 'linear']).default('geometric'),
  ...distillationFields,
  ...maskLatencyFields,
  /** Re-fit polynomial coefficients by DaPa every this many steps (AutoReP: 10; 0: never; a space with `poly.dapa: false` sets 0). */
  dapaEvery: z.number().int().min(0).default(10),
  /** … until this step. Default 500. */
  dapaUntil: z.number().int().min(0).default(500),
  /** Multipliers of the DaPa coefficients c0, c1, c2 (degree ≤ 2); absent: the space's `poly.damping`, else {@link AUTOREP_DAPA_DAMPING}. */
  dapaDamping: z.array(z.number()).optional(),
  /**
   * Hysteresis half-width t of the masks. Default `auto`: 3× α's current learning rate, so that a mask
   * flips only after about three consistent α steps, as AutoReP's t = 0.003 at lr 1e-3 (the first value
   * is in `resolved.threshold`).
   */
  threshold: z.union([z.number().positive(), z.literal('auto')]).default('auto'),
  /** Augmentation of the search batches. Default `auto`: random crop (pad 4) and flip for images ≥ 32 pixels, as AutoReP's CIFAR scripts; none for smaller ones. */
  augment: AugmentSetting.default('auto'),
});
export type AutorepSettings = z.output<typeof AutorepSection>;

/** `auto` α learning rate with pressure control: this many times ln(N/B)/annealSteps, the pace of the geometric target. */
const ALPHA_SPEEDUP = 4;
/** `auto` α learning rate with offset control: α can travel this far over the search (4× the U(0,1) spread of its start). */
const ALPHA_TRAVEL = 4;
/** Memory of the λ_ref estimate (an exponential moving average over steps). */
const LAMBDA_REF_MOMENTUM = 0.9;

interface AutorepState {
  ctx: SearchContext;
  s: AutorepSettings;
  gates: readonly PlacedGate<MaskGate>[];
  vars: tf.Variable[];
  opt: Adam;
  alphaOpt: Adam;
  schedule: { type: 'cosine'; lr: number; minLr: number };
  alphaLr: number;
  threshold: number;
  annealSteps: number;
  /** Dual variable ρ (auto λ) and the λ that makes the hinge's α-gradient RMS equal the task's. */
  pressure: number;
  lambdaRef: number;
  lambda: number;
  /** The annealed target and the count of the last step. */
  target: number;
  count: number;
  damping: readonly number[];
  /** The latency term's model (when `latencyWeight` > 0) and its last value (relative to all-ReLU). */
  latency?: MaskLatency;
  expectedLatency?: number;
}

/**
 * The annealed target at a step: from all searchable ReLUs N down to B over `annealSteps`, then B.
 * Geometric: N·(B/N)^(step/annealSteps) (B = 0 anneals to one ReLU, then holds 0).
 *
 * @example
 * ```ts runnable
 * autorepTarget(72, { searchable: 188_416, budget: 1_884, annealSteps: 144, schedule: 'geometric' }); // 18840.8 = √(N·B): one decade of two in half the time
 * ```
 */
export function autorepTarget(step: number, o: { searchable: number; budget: number; annealSteps: number; schedule: 'geometric' | 'linear' }): number {
  if (step >= o.annealSteps) return o.budget;
  const f = step / o.annealSteps;
  if (o.schedule === 'linear') return o.budget + (o.searchable - o.budget) * (1 - f);
  return o.searchable * Math.pow(Math.max(o.budget, 1) / o.searchable, f);
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

/**
 * Σ over α of the task's gradient squared (the step's α gradient minus the hinge's known part
 * λ·active·u/N·softplus(α); with a latency term, "task" includes it) and of the hinge's per-unit-λ
 * gradient u/N·softplus(α): their ratio's root is λ_ref. Computed before the optimizers move α.
 */
function gradientScales(st: AutorepState, grads: Record<string, tf.Tensor>, active: tf.Tensor | number, lambda: number): tf.Tensor {
  return tf.tidy(() => {
    const n = st.ctx.searchable;
    const task: tf.Tensor[] = [];
    const ref: tf.Tensor[] = [];
    for (const { gate } of st.gates) {
      const per = tf.mul(tf.softplus(gate.alpha), gate.unitSize() / n);
      task.push(tf.sum(tf.square(tf.sub(grads[gate.alpha.name]!, tf.mul(per, tf.mul(active, lambda))))));
      ref.push(tf.sum(tf.square(per)));
    }
    return tf.stack([tf.addN(task), tf.addN(ref)]);
  });
}

/**
 * α's learning rate at a step: the initial rate on the weights' cosine, times the last count over N
 * with the `count` schedule; an automatic hysteresis width follows it (3×), set on every gate.
 */
function alphaRate(st: AutorepState, lr: number): number {
  const scale = st.s.alphaSchedule === 'count' ? Math.max(st.count, 1) / st.ctx.searchable : 1;
  const rate = st.alphaLr * (lr / st.s.lr) * scale;
  if (st.s.threshold === 'auto') for (const g of st.gates) g.gate.threshold = 3 * rate;
  return rate;
}

/**
 * Moves every gate's hysteresis band by the common offset c that keeps `target` ReLUs: c lies between
 * the α of the last unit kept and the next, with units ranked by α and counted by their size.
 *
 * @example
 * ```ts
 * setOffset(gates, 1884); // before the step's forward pass: the masks then keep about 1,884 ReLUs
 * ```
 */
export function setOffset(gates: readonly PlacedGate<MaskGate>[], target: number): void {
  const alphas = gates.map(({ gate }) => gate.alpha.dataSync() as Float32Array);
  const sizes = gates.map(({ gate }) => gate.unitSize());
  const c = sizes.every((u) => u === 1) ? offsetOfPixels(alphas, target) : offsetOfUnits(alphas, sizes, target);
  for (const { gate } of gates) gate.offset = c;
}

/** Unit size 1 everywhere: the (target+1)-th largest α and the target-th bound the offset. */
function offsetOfPixels(alphas: Float32Array[], target: number): number {
  const all = new Float32Array(alphas.reduce((a, v) => a + v.length, 0));
  let at = 0;
  for (const v of alphas) all.set(v, (at += v.length) - v.length);
  all.sort();
  const n = all.length;
  const k = Math.floor(target);
  if (k >= n) return all[0]! - 1;
  if (k <= 0) return all[n - 1]! + 1;
  return (all[n - k]! + all[n - k - 1]!) / 2;
}

/** Units of several sizes: ranked by α, kept while their sizes sum to at most the target. */
function offsetOfUnits(alphas: Float32Array[], sizes: number[], target: number): number {
  const units = alphas.flatMap((v, g) => Array.from(v, (a) => ({ a, size: sizes[g]! }))).sort((x, y) => y.a - x.a);
  let sum = 0;
  for (let i = 0; i < units.length; i++) {
    if (sum + units[i]!.size > target) return i === 0 ? units[0]!.a + 1 : (units[i - 1]!.a + units[i]!.a) / 2;
    sum += units[i]!.size;
  }
  return units[units.length - 1]!.a - 1;
}

/** Bounded dual ascent on the pressure, and the running λ_ref. */
function updateLambda(st: AutorepState, count: number, target: number, taskSq: number, refSq: number): void {
  if (st.s.lambda !== 'auto') return;
  const ref = refSq > 0 ? Math.sqrt(taskSq / refSq) : 0;
  if (Number.isFinite(ref) && ref > 0) st.lambdaRef = st.lambdaRef === 0 ? ref : LAMBDA_REF_MOMENTUM * st.lambdaRef + (1 - LAMBDA_REF_MOMENTUM) * ref;
  const error = Math.max(-1, Math.min(1, (count - target) / Math.max(target, 1)));
  st.pressure = Math.max(st.s.pressureMin, Math.min(st.s.pressureMax, st.pressure + st.s.pressureRate * error));
  st.lambda = st.pressure * st.lambdaRef;
}

function step(st: AutorepState, [{ x, y }]: StepInput[], info: StepInfo) {
  const { ctx, s } = st;
  const target = autorepTarget(info.step, { searchable: ctx.searchable, budget: ctx.budget!, annealSteps: st.annealSteps, schedule: s.targetSchedule });
  st.target = target;
  dapa(st, x, info.step);
  if (s.budgetControl === 'offset') setOffset(st.gates, target);
  const lr = learningRate(st.schedule, info.step, info.totalSteps);
  const alphaLr = alphaRate(st, lr);
  const lambda = st.lambda;
  const teacherLogits = ctx.teacher?.forward(x);
  let kept: tf.Tensor | undefined;
  let lat: tf.Tensor | undefined;
  let task: tf.Tensor | undefined;
  const { grads } = tf.variableGrads(() => {
    const logits = ctx.net.forward(x);
    let loss: tf.Tensor = crossEntropy(logits, y);
    if (teacherLogits) loss = tf.add(loss, tf.mul(distillationLoss(logits, teacherLogits, s.temperature), s.distillWeight));
    task = tf.keep(loss);
    const perGate = st.gates.map((g) => g.gate.expectedRelus());
    kept = tf.keep(tf.addN(perGate));
    const gap = tf.div(tf.sub(kept, target), ctx.searchable);
    if (st.latency) {
      lat = tf.keep(expectedMaskLatency(st.latency, perGate));
      loss = tf.add(loss, tf.mul(lat, s.latencyWeight));
    }
    return tf.add(loss, tf.mul(s.lambda === 'auto' ? gap : tf.relu(gap), lambda)) as tf.Scalar;
  }, st.vars);
  let read: number[];
  try {
    // λ_ref's gradient scales are needed only by the pressure controller: the offset control skips the per-gate pass.
    const scales = s.budgetControl === 'pressure' ? gradientScales(st, grads, s.lambda === 'auto' ? 1 : tf.step(tf.sub(kept!, target)), lambda) : tf.zeros([2]);
    // Weight step and architecture step: AutoReP trains both jointly on the same batch, α on the weights' cosine.
    st.opt.step(grads, lr);
    st.alphaOpt.step(grads, alphaLr);
    // [task loss (CE + KD), kept ReLUs of this step's masks, task and reference α-gradient scales(, latency)]: one read per step.
    read = Array.from(tf.concat([tf.stack([task!, kept!]), scales, ...(lat ? [tf.reshape(lat, [1])] : [])]).dataSync());
  } finally {
    tf.dispose([task!, kept!, ...(lat ? [lat] : [])]);
  }
  const [loss, count, taskSq, refSq, latency] = read as [number, number, number, number, number?];
  st.count = count;
  if (latency !== undefined) st.expectedLatency = latency;
  if (s.budgetControl === 'pressure') updateLambda(st, count, target, taskSq, refSq);
  return { loss, count, target };
}

/**
 * AutoReP (Peng et al., ICCV'23): masks with hysteresis and a straight-through gradient, trained
 * jointly with the weights under `CE + KD + λ·max(0, Σm − target)/N`, polynomials DaPa-initialised
 * from the site statistics. polynas differs from the paper in two ways that remove hand tuning per
 * budget: the target is annealed geometrically from N to B, and λ is set against the task gradient
 * (Adam makes only that ratio matter) with a bounded pressure that follows the count. At the end the
 * masks are projected onto the budget ranked by (mask, α), so the count is ≤ B, and frozen.
 */
export const autorep: SearchStrategy<AutorepSettings, AutorepState> = {
  name: 'autorep',
  summary: 'AutoReP masks (hysteresis, straight-through) with DaPa polynomials and an annealed budget hinge',
  section: AutorepSection,
  gate: 'mask',
  maskRule: 'hysteresis',
  needsBudget: true,
  supernet: (s) => (s.threshold === 'auto' ? {} : { threshold: s.threshold }),
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
    const alphaLr = s.alphaLr !== 'auto' ? s.alphaLr
      : s.budgetControl === 'offset' ? Math.max(s.lr, ALPHA_TRAVEL / steps.total) : (ALPHA_SPEEDUP * Math.log(ctx.searchable / Math.max(ctx.budget!, 1))) / annealSteps;
    const threshold = s.threshold === 'auto' ? 3 * alphaLr : s.threshold;
    for (const g of ctx.gates as readonly PlacedGate<MaskGate>[]) g.gate.threshold = threshold;
    return {
      ctx, s, gates: ctx.gates as readonly PlacedGate<MaskGate>[], // an autorep supernet holds mask gates (gate: 'mask')
      vars: [...weights, ...alphas].map(([, v]) => v),
      opt: new Adam(weights, { type: 'adam' }),
      alphaOpt: new Adam(alphas, { type: 'adam' }),
      schedule: { type: 'cosine', lr: s.lr, minLr: s.minLr },
      alphaLr,
      threshold,
      annealSteps,
      pressure: 0,
      lambdaRef: 0,
      lambda: s.lambda === 'auto' ? 0 : s.lambda,
      ...(s.latencyWeight > 0 ? { latency: maskLatencyModel(ctx, ctx.gates as readonly PlacedGate<MaskGate>[], s.latencySmoothing) } : {}),
      target: ctx.searchable,
      count: ctx.searchable,
      damping: s.dapaDamping ?? AUTOREP_DAPA_DAMPING,
    };
  },
  step,
  epochEnd: (st) => ({ details: { target: st.target, lambda: st.lambda, pressure: st.pressure, ...(st.expectedLatency !== undefined ? { expectedLatency: st.expectedLatency } : {}) } }),
  discretize: (st, budget) => void projectAndFreeze(st.gates, budget!),
  resolved: (st) => ({ alphaLr: st.alphaLr, threshold: st.threshold, annealSteps: st.annealSteps }),
  snapshot: (st) => ({
    optimizers: { weights: st.opt.state(), alpha: st.alphaOpt.state() },
    values: { pressure: st.pressure, lambdaRef: st.lambdaRef, lambda: st.lambda, target: st.target, count: st.count, ...(st.expectedLatency !== undefined ? { expectedLatency: st.expectedLatency } : {}) },
  }),
  restore(st, snap) {
    st.opt.loadState(snap.optimizers.weights!);
    st.alphaOpt.loadState(snap.optimizers.alpha!);
    const v = snap.values;
    Object.assign(st, { pressure: v.pressure, lambdaRef: v.lambdaRef, lambda: v.lambda, target: v.target, count: v.count });
    if (v.expectedLatency !== undefined) st.expectedLatency = v.expectedLatency;
  },
  dispose(st) {
    st.opt.dispose();
    st.alphaOpt.dispose();
  },
};
