import { tf } from '../engine/tf.js';
import { FUSED, hasFusedKernel, maskedPoly } from '../engine/fused.js';
import { Module } from '../nn/module.js';
import { dapaCoefficients } from './dapa.js';

/** Options of {@link ChannelPoly}. */
export interface ChannelPolyOptions {
  /** Degree 1–4. Default 2. */
  degree?: number;
  /**
   * Scale applied to the x² (and higher) terms inside the forward pass (AutoReP's `scale_x2`): the
   * effective coefficient is `squareScale·c_k`, and it learns at `squareScale` times the rate. Default 0.1.
   */
  squareScale?: number;
  /** Floor of the variance a DaPa fit uses (AutoReP's `var_min`). Default 0.5. */
  varianceFloor?: number;
  /** Clip the x² (and higher) coefficients to [−clip, clip] in the forward pass (AutoReP's `clip_x2`; off when absent). */
  clip?: number;
}

/**
 * Channel-wise polynomial activation (AutoReP): `Σ_k c_k[ch]·x^k`, coefficients `[degree+1, C]`,
 * initialised to the ReLU-like line c1 = 1 until {@link ChannelPoly.initDapa} fits them to the
 * BatchNorm statistics of the site.
 *
 * @example
 * ```ts
 * const p = new ChannelPoly(16, { degree: 2 });
 * p.initDapa(runningMean, runningVar);
 * ```
 */
export class ChannelPoly extends Module {
  readonly coeffs: tf.Variable;
  readonly degree: number;
  readonly squareScale: number;
  readonly varianceFloor: number;
  readonly clip?: number;

  constructor(
    readonly channels: number,
    opts: ChannelPolyOptions = {},
  ) {
    super();
    this.degree = opts.degree ?? 2;
    if (!Number.isInteger(this.degree) || this.degree < 1 || this.degree > 4) throw new Error(`poly: degree must be 1–4, got ${this.degree}`);
    this.squareScale = opts.squareScale ?? 0.1;
    this.varianceFloor = opts.varianceFloor ?? 0.5;
    if (opts.clip !== undefined) this.clip = opts.clip;
    const init = Array.from({ length: this.degree + 1 }, (_, k) => new Array<number>(channels).fill(k === 1 ? 1 : 0));
    this.coeffs = this.param('coeffs', tf.tensor2d(init));
  }

  /**
   * DaPa initialisation: per channel, the L2-optimal fit of ReLU under N(μ, σ²) with μ, σ² from the
   * running statistics of the site input (σ = √max(var, varianceFloor)). For degrees ≤ 2, `damping`
   * multiplies coefficient k by `damping[k]` (AutoReP's code: c0/5, c2/10); degrees 3 and 4 are fitted
   * undamped, as AutoReP's. The fitted c2 is stored as is, so the effective x² coefficient of the
   * forward pass is `squareScale·damping[2]·c2` (AutoReP's semantics: `scale_x2` is not compensated).
   */
  initDapa(mean: ArrayLike<number>, variance: ArrayLike<number>, damping?: readonly number[]): void {
    if (mean.length !== this.channels || variance.length !== this.channels) {
      throw new Error(`poly.initDapa: ${mean.length} means / ${variance.length} variances for ${this.channels} channels`);
    }
    const rows = Array.from({ length: this.degree + 1 }, () => new Array<number>(this.channels).fill(0));
    for (let c = 0; c < this.channels; c++) {
      const co = dapaCoefficients(mean[c]!, Math.sqrt(Math.max(variance[c]!, this.varianceFloor, 1e-12)), this.degree);
      co.forEach((v, k) => (rows[k]![c] = v * (this.degree <= 2 ? (damping?.[k] ?? 1) : 1)));
    }
    tf.tidy(() => this.coeffs.assign(tf.tensor2d(rows)));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.fused(x) ?? this.composed(x);
  }

  /**
   * `p(x) + m·(ReLU(x) − p(x))` (a mask gate's output, `mask` broadcast over the leading axes; `p(x)`
   * without a mask) as one native kernel, forward and backward, where the backend has it; undefined
   * elsewhere.
   */
  fused(x: tf.Tensor, mask?: tf.Tensor): tf.Tensor | undefined {
    if (!hasFusedKernel(FUSED.maskedPoly)) return undefined;
    return maskedPoly(x, this.coeffs, this.clip === undefined ? { scale: this.squareScale } : { scale: this.squareScale, clip: this.clip }, mask);
  }

  private composed(x: tf.Tensor): tf.Tensor {
    // A copy: tfjs records unstack's own array as the node's outputs, so writing the clipped rows
    // into it would make the tape skip the clip (and pass gradient to clipped coefficients).
    const rows = [...tf.unstack(this.coeffs)];
    if (this.clip !== undefined) for (let k = 2; k <= this.degree; k++) rows[k] = tf.clipByValue(rows[k]!, -this.clip, this.clip);
    // c0 + c1·x + s·(c2·x² + … + cd·x^d), the bracket by Horner's rule.
    const linear = tf.add(rows[0]!, tf.mul(rows[1]!, x));
    if (this.degree === 1) return linear;
    let inner: tf.Tensor = rows[this.degree]!;
    for (let k = this.degree - 1; k >= 2; k--) inner = tf.add(tf.mul(inner, x), rows[k]!);
    const high = tf.mul(inner, tf.square(x));
    return tf.add(linear, this.squareScale === 1 ? high : tf.mul(high, this.squareScale));
  }
}

/** Identity activation (SNL's linearised sites). */
export class Identity extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return x;
  }
}
