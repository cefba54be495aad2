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
  bnReluTrain: 'PolynasBatchNormReluTrain',
  bnReluTrainGrad: 'PolynasBatchNormReluTrainGrad',
  reluGrad: 'PolynasReluGrad',
  sgdSteps: 'PolynasSgdSteps',
  adamSteps: 'PolynasAdamSteps',
  maskedPoly: 'PolynasMaskedPoly',
  maskedPolyGrad: 'PolynasMaskedPolyGrad',
  hysteresisMask: 'PolynasHysteresisMask',
} as const;

/** Settings of one fused SGD update (PyTorch semantics: L2 decay added to the gradient). */
export interface SgdStepAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/** Settings of one fused Adam update; `c1`, `c2` are the bias corrections 1 − βᵗ. */
export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  c1: number;
  c2: number;
}

/** Whether the active backend runs `kernel` (one of {@link FUSED}) natively. */
export const hasFusedKernel = (kernel: string) => tf.getKernel(kernel, tf.getBackend()) !== undefined;

/** Running statistics a training-mode batch norm updates (PyTorch: momentum-weighted, unbiased variance). */
export interface RunningStats {
  mean: tf.Variable;
  variance: tf.Variable;
  momentum: number;
}

/**
 * Training-mode batch norm over every axis but the last: `y = γ·(x − mean)/√(var + eps) + β` with
 * the batch mean and biased variance; `running` (when given) is updated from them as PyTorch does:
 * `r ← (1 − momentum)·r + momentum·s`, the variance unbiased by n/(n − 1). One native kernel where
 * the backend has it (statistics update included), composed tfjs ops elsewhere.
 *
 * @example
 * ```ts
 * const y = batchNormTrain(x, gamma, beta, 1e-5, { mean: runningMean, variance: runningVar, momentum: 0.1 });
 * ```
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, running?: RunningStats): tf.Tensor {
  if (!hasFusedKernel(FUSED.bnTrain) || x.rank !== 4) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const mean = tf.mean(x, axes);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes);
    if (running) updateRunning(running, mean, variance, x.size / x.shape[x.rank - 1]!);
    return tf.add(tf.mul(centered, tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)))), beta);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, invstd] = normKernel(FUSED.bnTrain, { x: xi, gamma: g, beta: b }, eps, running);
    save([xi, g, mean, invstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, is] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(FUSED.bnTrainGrad, { dy, x: xs, gamma: gs, mean: ms, invstd: is }, { eps }) as tf.Tensor[];
      },
    };
  });
  return f(x, gamma, beta);
}

/**
 * `relu(batchNormTrain(x, γ, β, eps, running) + residual)` (residual optional): training-mode batch
 * norm, a residual add and a ReLU, as a backbone block ends. Where the backend has the kernel, one
 * native call forward (statistics update included) and one backward; composed from
 * {@link batchNormTrain}, `tf.add` and {@link relu} elsewhere.
 *
 * @example
 * ```ts
 * const y = batchNormReluTrain(x, gamma, beta, 1e-5, { mean: runningMean, variance: runningVar, momentum: 0.1 }, shortcut);
 * ```
 */
export function batchNormReluTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, running?: RunningStats, residual?: tf.Tensor): tf.Tensor {
  // The kernel adds a residual of x's shape; one that broadcasts takes the composed path.
  if (!hasFusedKernel(FUSED.bnReluTrain) || x.rank !== 4 || (residual && !tf.util.arraysEqual(residual.shape, x.shape))) {
    const y = batchNormTrain(x, gamma, beta, eps, running);
    return relu(residual ? tf.add(y, residual) : y);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, g, b, r] = args as tf.Tensor[];
    const [y, mean, invstd] = normKernel(FUSED.bnReluTrain, r ? { x: xi!, gamma: g!, beta: b!, residual: r } : { x: xi!, gamma: g!, beta: b! }, eps, running);
    // The backward pass reads the ReLU's mask off y where there is a residual and recomputes it from x otherwise.
    save(r ? [xi!, g!, b!, mean, invstd, y] : [xi!, g!, b!, mean, invstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs, ms, is, ys] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const inputs: tf.NamedTensorMap = { dy, x: xs, gamma: gs, beta: bs, mean: ms, invstd: is };
        if (ys) inputs.y = ys;
        return tf.engine().runKernel(FUSED.bnReluTrainGrad, inputs) as tf.Tensor[];
      },
    };
  });
  return residual ? f(x, gamma, beta, residual) : f(x, gamma, beta);
}

/**
 * Runs a fused training-norm kernel (`running`'s statistics as extra inputs), moves the updated
 * statistics into `running`, and returns `[y, mean, invstd]`.
 */
function normKernel(kernel: string, inputs: tf.NamedTensorMap, eps: number, running?: RunningStats): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const all = running ? { ...inputs, runningMean: running.mean, runningVar: running.variance } : inputs;
  const [y, mean, invstd, rm, rv] = tf.engine().runKernel(kernel, all, { eps, momentum: running?.momentum ?? 0 }) as tf.Tensor[];
  if (running) {
    running.mean.assign(rm!);
    running.variance.assign(rv!);
    tf.dispose([rm!, rv!]);
  }
  return [y!, mean!, invstd!];
}

function updateRunning(running: RunningStats, mean: tf.Tensor, variance: tf.Tensor, n: number): void {
  const m = running.momentum;
  const unbiased = n > 1 ? n / (n - 1) : 1;
  // These ops do not lie on the path to the loss, so a gradient tape never differentiates them.
  tf.tidy(() => {
    running.mean.assign(tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m)));
    running.variance.assign(tf.add(tf.mul(running.variance, 1 - m), tf.mul(variance, m * unbiased)));
  });
}

/** Settings of a channel-wise polynomial: the scale of its x² and higher terms, and their clip (none when absent). */
export interface PolyAttrs {
  scale: number;
  clip?: number;
}

/**
 * A mask gate over a channel-wise polynomial in one native kernel, forward and backward:
 * `p(x) + m·(ReLU(x) − p(x))` with `p(x) = c0 + c1·x + scale·x²·(c2 + c3·x + c4·x²)` per channel
 * (the last axis), coefficients `[degree + 1, C]` (rows k ≥ 2 clipped to ±clip when given); without
 * `mask`, `p(x)` alone. `mask` broadcasts over the leading axes (`[1]`, `[C]` or a per-sample shape).
 * Differentiable in x, the mask and the coefficients. Only for backends with the kernel
 * ({@link hasFusedKernel}`(FUSED.maskedPoly)`); callers compose tfjs ops elsewhere.
 *
 * @example
 * ```ts
 * if (hasFusedKernel(FUSED.maskedPoly)) y = maskedPoly(x, coeffs, { scale: 0.1 }, mask);
 * ```
 */
export function maskedPoly(x: tf.Tensor, coeffs: tf.Tensor, attrs: PolyAttrs, mask?: tf.Tensor): tf.Tensor {
  const a = { scale: attrs.scale, clip: attrs.clip ?? -1 };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, c, m] = args as tf.Tensor[];
    save(m ? [xi!, c!, m] : [xi!, c!]);
    const inputs: tf.NamedTensorMap = m ? { x: xi!, coeffs: c!, mask: m } : { x: xi!, coeffs: c! };
    return {
      value: tf.engine().runKernel(FUSED.maskedPoly, inputs, a) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, cs, ms] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const gradInputs: tf.NamedTensorMap = ms ? { dy, x: xs, coeffs: cs, mask: ms } : { dy, x: xs, coeffs: cs };
        const [dx, dm, dc] = tf.engine().runKernel(FUSED.maskedPolyGrad, gradInputs, a) as tf.Tensor[];
        if (ms) return [dx!, dc!, dm!];
        dm!.dispose();
        return [dx!, dc!];
      },
    };
  });
  return mask ? f(x, coeffs, mask) : f(x, coeffs);
}

/**
 * AutoReP's hysteresis update of a binary mask from α with threshold `t` and offset `c`:
 * `m·[α − c > −t] + (1 − m)·[α − c > t]` in float arithmetic (tfjs' `step`, so a NaN stays NaN).
 * One native kernel where the backend has it, eight tfjs ops elsewhere. Not differentiable: the
 * mask is a buffer.
 *
 * @example
 * ```ts
 * mask.assign(hysteresisMask(mask, alpha, 0.003, 0));
 * ```
 */
export function hysteresisMask(mask: tf.Tensor, alpha: tf.Tensor, t: number, c: number): tf.Tensor {
  if (hasFusedKernel(FUSED.hysteresisMask)) return tf.engine().runKernel(FUSED.hysteresisMask, { mask, alpha }, { keepShift: t - c, restoreShift: t + c }) as tf.Tensor;
  // Float arithmetic, no boolean tensors: a boolean tf.where over the mask corrupted the tfjs-wasm 4.22
  // heap ("memory access out of bounds").
  return tf.tidy(() => {
    const keep = tf.step(tf.add(alpha, t - c));
    const restore = tf.step(tf.sub(alpha, t + c));
    return tf.add(tf.mul(mask, keep), tf.mul(tf.sub(1, mask), restore));
  });
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
  if (!hasFusedKernel(FUSED.reluGrad)) return tf.relu(x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xi]);
    return { value: tf.relu(xi), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED.reluGrad, { dy, x: saved[0]! }) as tf.Tensor };
  });
  return f(x);
}

/** The kernel inputs of a multi-parameter update: `${name}${i}` for each list and index. */
function listInputs(lists: Record<string, tf.Tensor[]>): tf.NamedTensorMap {
  const inputs: tf.NamedTensorMap = {};
  for (const [name, list] of Object.entries(lists)) list.forEach((t, i) => (inputs[`${name}${i}`] = t));
  return inputs;
}

/**
 * One SGD update of many parameters: returns `[params', bufs']` (a buffer is the new momentum
 * buffer, or the decayed gradient without momentum). One native call for all of them where the
 * backend fuses it, the same element-wise ops per parameter elsewhere.
 *
 * @example
 * ```ts
 * const [ps, bufs] = sgdSteps([w, b], [dw, db], [bufW, bufB], { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: false });
 * ```
 */
export function sgdSteps(params: tf.Tensor[], grads: tf.Tensor[], bufs: tf.Tensor[], a: SgdStepAttrs): [tf.Tensor[], tf.Tensor[]] {
  const n = params.length;
  if (grads.length !== n || bufs.length !== n) throw new Error(`sgdSteps: ${n} parameters, ${grads.length} gradients, ${bufs.length} buffers`);
  if (n && hasFusedKernel(FUSED.sgdSteps)) {
    const out = tf.engine().runKernel(FUSED.sgdSteps, listInputs({ p: params, g: grads, b: bufs }), { n, ...a } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return [out.slice(0, n), out.slice(n)];
  }
  const out = params.map((param, i) => {
    let g = a.weightDecay ? tf.add(grads[i]!, tf.mul(param, a.weightDecay)) : grads[i]!;
    const next = a.momentum > 0 ? tf.add(tf.mul(bufs[i]!, a.momentum), g) : g;
    if (a.momentum > 0) g = a.nesterov ? tf.add(g, tf.mul(next, a.momentum)) : next;
    return [tf.sub(param, tf.mul(g, a.lr)), next] as const;
  });
  return [out.map((o) => o[0]), out.map((o) => o[1])];
}

/**
 * One Adam / AdamW update of many parameters: returns `[params', ms', vs']`. One native call for all
 * of them where the backend fuses it, the same element-wise ops per parameter elsewhere.
 *
 * @example
 * ```ts
 * const [ps, ms, vs] = adamSteps([w], [dw], [m0], [v0], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, c1: 0.1, c2: 0.001 });
 * ```
 */
export function adamSteps(params: tf.Tensor[], grads: tf.Tensor[], ms: tf.Tensor[], vs: tf.Tensor[], a: AdamStepAttrs): [tf.Tensor[], tf.Tensor[], tf.Tensor[]] {
  const n = params.length;
  if (grads.length !== n || ms.length !== n || vs.length !== n) throw new Error(`adamSteps: ${n} parameters, ${grads.length} gradients, ${ms.length} and ${vs.length} moments`);
  if (n && hasFusedKernel(FUSED.adamSteps)) {
    const out = tf.engine().runKernel(FUSED.adamSteps, listInputs({ p: params, g: grads, m: ms, v: vs }), { n, ...a } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return [out.slice(0, n), out.slice(n, 2 * n), out.slice(2 * n)];
  }
  const out = params.map((param, i) => {
    const grad = grads[i]!;
    const g = a.weightDecay && !a.decoupled ? tf.add(grad, tf.mul(param, a.weightDecay)) : grad;
    const m1 = tf.add(tf.mul(ms[i]!, a.beta1), tf.mul(g, 1 - a.beta1));
    const v1 = tf.add(tf.mul(vs[i]!, a.beta2), tf.mul(tf.square(g), 1 - a.beta2));
    const update = tf.div(tf.div(m1, a.c1), tf.add(tf.sqrt(tf.div(v1, a.c2)), a.eps));
    const base = a.weightDecay && a.decoupled ? tf.mul(param, 1 - a.lr * a.weightDecay) : param;
    return [tf.sub(base, tf.mul(update, a.lr)), m1, v1] as const;
  });
  return [out.map((o) => o[0]), out.map((o) => o[1]), out.map((o) => o[2])];
}
