import { tf } from '../engine/tf.js';
import { Module } from '../nn/module.js';

/** How the fixed scale s of the square term is chosen. */
export type X2actScale =
  /** s = value (published code: 1, and 0.1 for ResNet-50). */
  | { rule: 'constant'; value: number }
  /** s = c/√Nx with Nx the elements per sample at the site (the papers' description). */
  | { rule: 'feature-size'; c: number };

/** Options of {@link X2act}. */
export interface X2actOptions {
  /** One (w1, w2, b) per site (`layer`, the published default) or per channel. */
  granularity?: 'layer' | 'channel';
  /** Default `{ rule: 'constant', value: 1 }`. */
  scale?: X2actScale;
}

/**
 * X2act (PolyMPCNet / PASNet): `s·w1·x² + w2·x + b` with trainable w1, w2, b and a fixed scale s on
 * the square. Straight-through initialisation w1 = 0.005, w2 = 1, b = 0: the activation starts as
 * the identity plus a small square, so swapping it in does not derail training.
 *
 * @example
 * ```ts
 * const act = new X2act(16, [32, 32, 16], { granularity: 'channel' });
 * ```
 */
export class X2act extends Module {
  readonly w1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b: tf.Variable;
  readonly s: number;

  constructor(
    channels: number,
    /** Per-sample input shape at the site (for the feature-size scale rule). */
    siteShape: readonly number[],
    opts: X2actOptions = {},
  ) {
    super();
    const n = opts.granularity === 'channel' ? channels : 1;
    this.w1 = this.param('w1', tf.fill([n], 0.005));
    this.w2 = this.param('w2', tf.ones([n]));
    this.b = this.param('b', tf.zeros([n]));
    const scale = opts.scale ?? { rule: 'constant', value: 1 };
    const nx = siteShape.reduce((a, v) => a * v, 1);
    this.s = scale.rule === 'constant' ? scale.value : scale.c / Math.sqrt(nx);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(x, tf.add(tf.mul(x, tf.mul(this.w1, this.s)), this.w2)), this.b);
  }
}
