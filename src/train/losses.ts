import { tf } from '../engine/tf.js';
import type { GradMap } from './optim.js';

/**
 * Mean softmax cross-entropy of logits `[B,K]` against integer labels `[B]`, with optional label
 * smoothing ε (targets `(1−ε)·onehot + ε/K`).
 *
 * @example
 * ```ts
 * crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], 'int32')).dataSync()[0]; // ln 2
 * ```
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1]!;
    const logp = tf.logSoftmax(logits as tf.Tensor2D);
    let target: tf.Tensor = tf.oneHot(labels as tf.Tensor1D, k);
    if (labelSmoothing > 0) target = tf.add(tf.mul(target, 1 - labelSmoothing), labelSmoothing / k);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1))) as tf.Scalar;
  });
}

/**
 * Knowledge distillation (Hinton et al.): `T²·KL(softmax(teacher/T) ‖ softmax(student/T))`,
 * averaged over the batch. The teacher logits receive no gradient.
 *
 * @example
 * ```ts
 * distillationLoss(studentLogits, teacherLogits, 4);
 * ```
 */
export function distillationLoss(student: tf.Tensor, teacher: tf.Tensor, temperature = 4): tf.Scalar {
  return tf.tidy(() => {
    const t = temperature;
    const logq = tf.logSoftmax(tf.div(student, t) as tf.Tensor2D);
    const logp = tf.logSoftmax(tf.div(teacher, t) as tf.Tensor2D);
    const kl = tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, logq)), 1);
    return tf.mul(tf.mean(kl), t * t) as tf.Scalar;
  });
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (returns new tensors and the
 * norm before clipping; the inputs are not disposed).
 *
 * @example
 * ```ts
 * const { grads: clipped, norm } = clipByGlobalNorm(grads, 5);
 * ```
 */
export function clipByGlobalNorm(grads: GradMap, maxNorm: number): { grads: GradMap; norm: number } {
  const keys = Object.keys(grads);
  const normT = tf.tidy(() => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grads[k]!))))));
  const norm = normT.dataSync()[0]!;
  normT.dispose();
  const scale = norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out: GradMap = {};
  for (const k of keys) out[k] = scale === 1 ? tf.clone(grads[k]!) : tf.mul(grads[k]!, scale);
  return { grads: out, norm };
}
