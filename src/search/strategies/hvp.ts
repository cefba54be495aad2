import { tf } from '../../engine/tf.js';
import type { GradMap } from '../../train/optim.js';

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
