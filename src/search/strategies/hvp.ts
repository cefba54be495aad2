import { tf } from '../../engine/tf.js';
import type { Module } from '../../nn/module.js';
import type { GradMap, Sgd } from '../../train/optim.js';

/**
 * Finite-difference Hessian-vector product of DARTS' second-order step (Liu et al.; PASNet Alg. 1):
 * `(∇θ L(ω + εv) − ∇θ L(ω − εv)) / (2ε)` with ε = 0.01/‖v‖, evaluated at the ORIGINAL weights ω
 * (which are restored afterwards). Returns gradients keyed by θ variable name.
 *
 * @example
 * ```ts
 * const hvp = hessianVectorProduct(() => loss(x, y), weightVars, archVars, v);
 * hvp[archVars[0].name].print();
 * ```
 */
export function hessianVectorProduct(loss: () => tf.Scalar, weights: tf.Variable[], arch: tf.Variable[], v: tf.Tensor[]): GradMap {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(v.map((t) => tf.sum(tf.square(t))))).dataSync()[0]!);
  const eps = 0.01 / Math.max(norm, 1e-12);
  const orig = weights.map((w) => tf.clone(w));
  const shifted = (sign: number): GradMap => {
    weights.forEach((w, i) => w.assign(tf.tidy(() => tf.add(orig[i]!, tf.mul(v[i]!, sign * eps)))));
    return tf.variableGrads(loss, arch).grads;
  };
  const plus = shifted(1);
  const minus = shifted(-1);
  weights.forEach((w, i) => w.assign(orig[i]!));
  orig.forEach((t) => t.dispose());
  const out: GradMap = {};
  for (const a of arch) {
    out[a.name] = tf.tidy(() => tf.div(tf.sub(plus[a.name]!, minus[a.name]!), 2 * eps));
    plus[a.name]!.dispose();
    minus[a.name]!.dispose();
  }
  return out;
}

/** The variables of the unrolled step: the weights (with their paths), θ, and the SGD settings of the virtual step. */
export interface UnrolledVars {
  weights: [string, tf.Variable][];
  wVars: tf.Variable[];
  aVars: tf.Variable[];
  momentum: number;
  weightDecay: number;
}

/**
 * The unrolled (second-order) architecture gradient ∇θ L_search(ω′, θ) − ξ·HVP with the virtual
 * step ω′ = ω − ξ(momentum·buf + ∇ω L_train + wd·ω); weights and BatchNorm statistics are restored.
 */
export function unrolledArchGrads(net: Module, wOpt: Sgd, v: UnrolledVars, trainLoss: () => tf.Scalar, searchLoss: () => tf.Scalar, xi: number): GradMap {
  const { wVars, aVars } = v;
  const orig = wVars.map((w) => tf.keep(tf.clone(w)));
  const buffers = net.namedBuffers().map(([, b]) => [b, tf.keep(tf.clone(b))] as const);
  const gTrain = tf.variableGrads(trainLoss, wVars).grads;
  wVars.forEach((w, i) => {
    const buf = wOpt.momentumBuffer(v.weights[i]![0]);
    const g = tf.add(gTrain[w.name]!, tf.mul(w, v.weightDecay));
    const moment = buf ? tf.mul(buf, v.momentum) : tf.zerosLike(w);
    w.assign(tf.sub(w, tf.mul(tf.add(moment, g), xi)));
  });
  // ∇θ L_search(ω′) and v = ∇ω′ L_search(ω′), then the HVP at the ORIGINAL weights.
  const g2 = tf.variableGrads(searchLoss, [...aVars, ...wVars]).grads;
  wVars.forEach((w, i) => w.assign(orig[i]!));
  const hvp = hessianVectorProduct(trainLoss, wVars, aVars, wVars.map((w) => g2[w.name]!));
  const out: GradMap = {};
  for (const a of aVars) out[a.name] = tf.sub(g2[a.name]!, tf.mul(hvp[a.name]!, xi));
  for (const [b, copy] of buffers) {
    b.assign(copy);
    copy.dispose();
  }
  orig.forEach((t) => t.dispose());
  return out;
}

