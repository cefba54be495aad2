import { tf } from '../engine/tf.js';
import { conv2d, depthwiseConv2d } from '../engine/conv.js';
import { maxPool2d } from '../engine/pool.js';
import { batchNormReluTrain, batchNormTrain, relu } from '../engine/fused.js';
import { InitRng, kaimingNormal, uniform } from './init.js';
import { Module } from './module.js';

/** Options of {@link Conv2d}. Defaults: stride 1, pad ⌊k/2⌋, groups 1, no bias. */
export interface Conv2dOptions {
  stride?: number;
  pad?: number;
  /** `1` dense, `inChannels` (= outChannels) depthwise; other divisors run as grouped convolutions. */
  groups?: number;
  bias?: boolean;
  rng: InitRng;
}

/**
 * 2-D convolution over NHWC tensors with PyTorch-style symmetric padding; weight `[k,k,in/groups,out]`
 * (depthwise: `[k,k,C,1]`), Kaiming-normal (fan-out) init.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(3, 16, 3, { rng: new InitRng(0) });
 * conv.forward(tf.zeros([2, 32, 32, 3])).shape; // [2, 32, 32, 16]
 * ```
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;
  readonly pad: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: Conv2dOptions,
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.pad = opts.pad ?? Math.floor(kernel / 2);
    this.groups = opts.groups ?? 1;
    const g = this.groups;
    if (inChannels % g !== 0 || outChannels % g !== 0) {
      throw new Error(`Conv2d: groups=${g} must divide inChannels=${inChannels} and outChannels=${outChannels}`);
    }
    const depthwise = g > 1 && g === inChannels && g === outChannels;
    const shape = depthwise ? [kernel, kernel, inChannels, 1] : [kernel, kernel, inChannels / g, outChannels];
    this.weight = this.param('weight', kaimingNormal(shape, (kernel * kernel * outChannels) / g, opts.rng));
    if (opts.bias) this.bias = this.param('bias', tf.zeros([outChannels]));
  }

  get depthwise(): boolean {
    return this.groups > 1 && this.groups === this.inChannels && this.groups === this.outChannels;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const x4 = x as tf.Tensor4D;
    const w = this.weight as unknown as tf.Tensor4D;
    const geo = { stride: this.stride, pad: this.pad };
    let y: tf.Tensor4D;
    if (this.groups === 1) y = conv2d(x4, w, geo);
    else if (this.depthwise) y = depthwiseConv2d(x4, w, geo);
    else {
      const xs = tf.split(x4, this.groups, 3) as tf.Tensor4D[];
      const ws = tf.split(w, this.groups, 3) as tf.Tensor4D[];
      y = tf.concat(xs.map((xi, i) => conv2d(xi, ws[i]!, geo)), 3);
    }
    return this.recorded(x, this.bias ? tf.add(y, this.bias) : y);
  }
}

/**
 * Batch normalisation over the channel axis of NHWC tensors. Training mode normalises with the batch
 * statistics and updates the running statistics as PyTorch does:
 * `running ← (1 − momentum)·running + momentum·batch`, with the unbiased batch variance (n/(n−1)).
 * Eval mode normalises with the running statistics.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(16);
 * bn.eval().forward(tf.zeros([1, 4, 4, 16]));
 * ```
 */
export class BatchNorm2d extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    super();
    this.gamma = this.param('weight', tf.ones([channels]));
    this.beta = this.param('bias', tf.zeros([channels]));
    this.runningMean = this.buffer('running_mean', tf.zeros([channels]));
    this.runningVar = this.buffer('running_var', tf.ones([channels]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training) {
      const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(this.runningVar, this.eps)));
      return this.recorded(x, tf.add(tf.mul(tf.sub(x, this.runningMean), scale), this.beta));
    }
    return this.recorded(x, batchNormTrain(x, this.gamma, this.beta, this.eps, this.running()));
  }

  /**
   * `relu(forward(x) + residual)` (residual optional). While training, {@link batchNormReluTrain}: one
   * fused kernel where the backend has it, the same composition as `forward` elsewhere.
   */
  forwardRelu(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    if (!this.training) {
      const y = this.forward(x);
      return relu(residual ? tf.add(y, residual) : y);
    }
    return this.recorded(x, batchNormReluTrain(x, this.gamma, this.beta, this.eps, this.running(), residual));
  }

  private running() {
    return { mean: this.runningMean, variance: this.runningVar, momentum: this.momentum };
  }
}

/**
 * A module that applies itself to a batch norm's output (plus a residual) and may fuse the two:
 * an activation site that holds a plain ReLU. {@link Sequential} hands it the norm that precedes it.
 */
export interface AfterNorm {
  forwardAfterNorm(bn: BatchNorm2d, x: tf.Tensor, residual?: tf.Tensor): tf.Tensor;
}

const takesNorm = (m: Module | undefined): m is Module & AfterNorm => typeof (m as Partial<AfterNorm> | undefined)?.forwardAfterNorm === 'function';

/**
 * Fully connected layer `y = x·W + b`, weight `[in, out]`, PyTorch's default init U(±1/√in).
 *
 * @example
 * ```ts
 * new Linear(64, 10, { rng: new InitRng(0) }).forward(tf.zeros([2, 64])).shape; // [2, 10]
 * ```
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; rng: InitRng },
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', uniform([inFeatures, outFeatures], bound, opts.rng));
    if (opts.bias ?? true) this.bias = this.param('bias', uniform([outFeatures], bound, opts.rng));
  }
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.matMul(x as tf.Tensor2D, this.weight as unknown as tf.Tensor2D);
    return this.recorded(x, this.bias ? tf.add(y, this.bias) : y);
  }
}

/** Element-wise ReLU: one secure comparison per element under 2PC. */
export class ReLU extends Module {
  override opId = 'relu';
  forward(x: tf.Tensor): tf.Tensor {
    return relu(x);
  }
  reluCount(perSampleShape: readonly number[]): number {
    return perSampleShape.reduce((a, b) => a * b, 1);
  }
}

/** Square-window pooling: `max` (padded positions never win) or `avg` (padded positions excluded from the mean). */
abstract class Pool2d extends Module {
  constructor(
    readonly kernel: number,
    readonly stride = kernel,
    readonly pad = 0,
  ) {
    super();
  }
  protected abstract pool(x: tf.Tensor4D): tf.Tensor;
  forward(x: tf.Tensor): tf.Tensor {
    return this.recorded(x, this.pool(x as tf.Tensor4D));
  }
}

/** Valid (unpadded) input positions of each output window along one axis. */
function windowSpans(size: number, kernel: number, stride: number, pad: number): number[] {
  const out = Math.floor((size + 2 * pad - kernel) / stride) + 1;
  return Array.from({ length: Math.max(0, out) }, (_, o) => {
    const start = o * stride - pad;
    return Math.min(size, start + kernel) - Math.max(0, start);
  });
}

/**
 * Max pooling with a square window; padded positions never win. Under 2PC a window of v valid
 * inputs costs v − 1 secure comparisons (k² − 1 for a full window, fewer at padded borders).
 */
export class MaxPool2d extends Pool2d {
  override opId = 'maxpool';
  protected pool(x: tf.Tensor4D): tf.Tensor {
    return maxPool2d(x, this.kernel, this.stride, this.pad);
  }
  /** Secure comparisons per sample for an input `[H, W, C]`: Σ over output windows of (valid inputs − 1), per channel. */
  comparisons(perSampleShape: readonly number[]): number {
    const [h, w, c] = perSampleShape as [number, number, number];
    const rows = windowSpans(h, this.kernel, this.stride, this.pad);
    const cols = windowSpans(w, this.kernel, this.stride, this.pad);
    let total = 0;
    for (const r of rows) for (const q of cols) total += r * q - 1;
    return total * c;
  }
}

/** Average pooling with a square window (padded positions are excluded from the mean). */
export class AvgPool2d extends Pool2d {
  override opId = 'avgpool';
  protected pool(x: tf.Tensor4D): tf.Tensor {
    return tf.avgPool(x, this.kernel, this.stride, this.pad);
  }
}

/** Global average pooling `[B,H,W,C] → [B,C]`. */
export class GlobalAvgPool extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return this.recorded(x, globalMean(x));
  }
}

/**
 * The mean over H and W of an NHWC tensor, with tfjs' own gradient `dy·1/(H·W)` except that the ones
 * come from a backend kernel (`onesLike`): tfjs' Mean gradient fills them in JavaScript and uploads
 * them, a megabyte per ResNet-20 step.
 */
const globalMean = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.mean(x, [1, 2]),
    gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => {
      const [n, h, w, c] = xs!.shape as [number, number, number, number];
      return tf.div(tf.mul(tf.reshape(dy, [n, 1, 1, c]), tf.onesLike(xs!)), h * w);
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** `[B,…] → [B, prod(…)]`. */
export class Flatten extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0]!, -1]);
  }
}

/** Applies its children in order; children are named '0', '1', …. */
export class Sequential extends Module {
  private readonly layers: Module[] = [];
  constructor(...layers: Module[]) {
    super();
    for (const l of layers) this.push(l);
  }
  push(layer: Module): this {
    this.module(String(this.layers.length), layer);
    this.layers.push(layer);
    return this;
  }
  get length(): number {
    return this.layers.length;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return runLayers(this.layerList(), x);
  }

  /**
   * `after.forward(this.forward(x))`, handing `after` the batch norm this sequence ends with (when it
   * does) so that the two may run as one fused kernel.
   */
  forwardThen(after: Module & AfterNorm, x: tf.Tensor): tf.Tensor {
    const layers = this.layerList();
    const last = layers[layers.length - 1];
    if (!(last instanceof BatchNorm2d)) return after.forward(runLayers(layers, x));
    return after.forwardAfterNorm(last, runLayers(layers.slice(0, -1), x));
  }

  private layerList(): Module[] {
    return [...this.namedChildren()].map(([, l]) => l);
  }
}

/** Applies `layers` in order; a batch norm followed by an {@link AfterNorm} module goes to that module. */
function runLayers(layers: Module[], x: tf.Tensor): tf.Tensor {
  let y = x;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const next = layers[i + 1];
    if (l instanceof BatchNorm2d && takesNorm(next)) {
      y = next.forwardAfterNorm(l, y);
      i++;
    } else {
      y = l.forward(y);
    }
  }
  return y;
}
