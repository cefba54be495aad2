/**
 * Fused training kernels. A backend that registers them (the `torch` backend does) runs batch norm
 * and the ReLU gradient as single native kernels; on other backends the same functions compose
 * tfjs ops, so results agree everywhere.
 */
import { tf } from './tf.js';

/** Kernel names of the fused ops. */
export const FUSED = {
  bnTrain: 'PolynasBatchNormTrain',
  bnTrainGrad: 'PolynasBatchNormTrainGrad',
  reluGrad: 'PolynasReluGrad',
} as const;

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

/**
 * Training-mode batch norm over every axis but the last: `y = γ·(x − mean)/√(var + eps) + β` with
 * the batch mean and biased variance, which `onStats` receives (for the running statistics) while
 * they are alive.
 *
 * @example
 * ```ts
 * const y = batchNormTrain(x, gamma, beta, 1e-5, (mean, variance) => updateRunning(mean, variance));
 * ```
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, onStats?: (mean: tf.Tensor, variance: tf.Tensor) => void): tf.Tensor {
  if (!hasKernel(FUSED.bnTrain) || x.rank !== 4) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const mean = tf.mean(x, axes);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes);
    onStats?.(mean, variance);
    return tf.add(tf.mul(centered, tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)))), beta);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, invstd] = tf.engine().runKernel(FUSED.bnTrain, { x: xi, gamma: g, beta: b }, { eps }) as tf.Tensor[];
    save([xi, g, mean!, invstd!]);
    // Biased variance back from 1/√(var + eps).
    if (onStats) onStats(mean!, tf.tidy(() => tf.sub(tf.reciprocal(tf.square(invstd!)), eps)));
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, is] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(FUSED.bnTrainGrad, { dy, x: xs, gamma: gs, mean: ms, invstd: is }, { eps }) as tf.Tensor[];
      },
    };
  });
  return f(x, gamma, beta);
}

/**
 * ReLU whose gradient is one fused kernel where the backend has it.
 *
 * @example
 * ```ts
 * relu(tf.tensor1d([-1, 2])).print(); // [0, 2]
 * ```
 */
export function relu(x: tf.Tensor): tf.Tensor {
  if (!hasKernel(FUSED.reluGrad)) return tf.relu(x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xi]);
    return { value: tf.relu(xi), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED.reluGrad, { dy, x: saved[0]! }) as tf.Tensor };
  });
  return f(x);
}
