import { tf } from '../engine/tf.js';
import { Module } from './module.js';
import { AvgPool2d, type AfterNorm, type BatchNorm2d, MaxPool2d, ReLU } from './layers.js';

/** Kinds of searchable sites a backbone exposes. */
export const SITE_KINDS = ['activation', 'pool'] as const;
export type SiteKind = (typeof SITE_KINDS)[number];

/** An operator placed at a site may report how many ReLUs (secure comparisons) it evaluates. */
export interface ReluCounting {
  reluCount(perSampleShape: readonly number[]): number;
}

/** An operator that evaluates secure comparisons other than ReLUs (max-pool windows) reports how many. */
export interface ComparisonCounting {
  comparisons(perSampleShape: readonly number[]): number;
}

function countsRelus(m: Module): m is Module & ReluCounting {
  return typeof (m as Partial<ReluCounting>).reluCount === 'function';
}

function countsComparisons(m: Module): m is Module & ComparisonCounting {
  return typeof (m as Partial<ComparisonCounting>).comparisons === 'function';
}

/**
 * A named, addressable place in a backbone where an activation (ReLU) or a pooling operator sits.
 * Search spaces target sites by their dotted path; the site records the per-sample shape of its
 * input on every forward pass so that ReLU counts and latencies of candidates are exact.
 */
export abstract class Site extends Module {
  abstract readonly kind: SiteKind;
  /** Per-sample input shape `[H, W, C]` (or `[F]`) seen on the last forward pass. */
  inputShape?: number[];
  private current: Module;

  constructor(
    op: Module,
    /** True for the stem activation (a search space may leave it out; ReLU counts never do). */
    readonly stem = false,
  ) {
    super();
    this.current = this.module('op', op);
  }

  /** The operator now at this site. */
  get op(): Module {
    return this.current;
  }

  /** Puts another operator at this site (the previous one is returned, not disposed). */
  setOp(op: Module): Module {
    const prev = this.current;
    this.replaceChild('op', op);
    this.current = op;
    op.train(this.training);
    return prev;
  }

  /** While set, each forward pass raises it to the largest |output| seen (see `Backbone.activationRanges`). */
  probedMax?: number;

  forward(x: tf.Tensor): tf.Tensor {
    this.inputShape = x.shape.slice(1);
    const y = this.current.forward(x);
    if (this.probedMax !== undefined) this.probedMax = Math.max(this.probedMax, tf.tidy(() => tf.max(tf.abs(y)).dataSync()[0]!));
    return y;
  }

  /** ReLUs the current operator evaluates per sample (needs a traced input shape; a pooling site evaluates none). */
  reluCount(): number {
    if (!this.inputShape) throw new Error('site has no recorded input shape: trace the network first');
    if (this.kind === 'pool') return 0;
    return countsRelus(this.current) ? this.current.reluCount(this.inputShape) : 0;
  }

  /** Max-pool comparisons the current operator evaluates per sample (needs a traced input shape). */
  comparisons(): number {
    if (!this.inputShape) throw new Error('site has no recorded input shape: trace the network first');
    return countsComparisons(this.current) ? this.current.comparisons(this.inputShape) : 0;
  }
}

/**
 * An activation site; ReLU by default.
 *
 * @example
 * ```ts
 * const act = new ActivationSite(); // ReLU until a search sets another op
 * act.setOp(new X2act(16, [32, 32, 16])).dispose();
 * ```
 */
export class ActivationSite extends Site implements AfterNorm {
  readonly kind = 'activation' as const;
  constructor(opts: { stem?: boolean; op?: Module } = {}) {
    super(opts.op ?? new ReLU(), opts.stem ?? false);
  }

  /**
   * This site applied to `bn(x) + residual` (residual optional). While training a site that holds a
   * plain ReLU and is not probed, the norm, the add and the ReLU go to {@link BatchNorm2d.forwardRelu}
   * (one fused kernel where the backend has it; the same values up to float rounding, the fused
   * kernel's reductions being its own).
   */
  forwardAfterNorm(bn: BatchNorm2d, x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    if (this.op.constructor === ReLU && this.probedMax === undefined && bn.training) {
      this.inputShape = x.shape.slice(1);
      return bn.forwardRelu(x, residual);
    }
    const y = bn.forward(x);
    return this.forward(residual ? tf.add(y, residual) : y);
  }
}

/**
 * A pooling site; MaxPool by default.
 *
 * @example
 * ```ts
 * const pool = new PoolSite(2, 2, 0); // MaxPool 2×2 by default
 * pool.setOp(new AvgPool2d(2, 2, 0)).dispose();
 * ```
 */
export class PoolSite extends Site {
  readonly kind = 'pool' as const;
  constructor(
    readonly kernel: number,
    readonly stride = kernel,
    readonly pad = 0,
    type: 'max' | 'avg' = 'max',
  ) {
    super(type === 'max' ? new MaxPool2d(kernel, stride, pad) : new AvgPool2d(kernel, stride, pad));
  }
}
