import { tf } from '../engine/tf.js';
import { MaxPool2d, ReLU } from '../nn/layers.js';
import { MeteredMaxPool2d, MeteredReLU, SecureOpCounter } from '../nn/metered.js';
import { Module } from '../nn/module.js';

/**
 * The deployed form of a mask-gated site, as a 2PC runtime evaluates it: the kept elements are
 * gathered, passed through ReLU (metered) and scattered back; every other element goes through the
 * cheap operator. Its output equals the training form's `m·ReLU(x) + (1 − m)·op(x)`, and the elements
 * reaching the ReLU kernel are exactly the kept ones.
 */
export class GatheredActivation extends Module {
  private readonly kept: tf.Tensor1D;
  private readonly rest: tf.Tensor1D;
  /** Position of element i of the site in `[relu(kept), op(rest)]`. */
  private readonly inverse: tf.Tensor1D;
  private readonly relu: MeteredReLU;

  constructor(
    /** 1 = the element keeps its ReLU, per element of the per-sample site shape (flattened). */
    readonly keep: Uint8Array,
    /** The cheap operator (owned by the gate, not disposed here). */
    readonly alt: Module,
    counter: SecureOpCounter,
  ) {
    super();
    const kept: number[] = [];
    const rest: number[] = [];
    keep.forEach((k, i) => (k ? kept : rest).push(i));
    const inverse = new Int32Array(keep.length);
    kept.forEach((e, j) => (inverse[e] = j));
    rest.forEach((e, j) => (inverse[e] = kept.length + j));
    this.kept = tf.tensor1d(kept, 'int32');
    this.rest = tf.tensor1d(rest, 'int32');
    this.inverse = tf.tensor1d(inverse, 'int32');
    this.relu = new MeteredReLU(counter);
  }

  forward(x: tf.Tensor): tf.Tensor {
    const n = x.size / x.shape[0]!;
    if (this.rest.size === 0) return this.relu.forward(x);
    if (this.kept.size === 0) return this.alt.forward(x);
    return tf.tidy(() => {
      const flat = tf.reshape(x, [x.shape[0]!, n]);
      const relus = this.relu.forward(tf.gather(flat, this.kept, 1));
      const cheap = tf.gather(tf.reshape(this.alt.forward(x), [x.shape[0]!, n]), this.rest, 1);
      return tf.reshape(tf.gather(tf.concat([relus, cheap], 1), this.inverse, 1), x.shape);
    });
  }

  override dispose(): void {
    this.kept.dispose();
    this.rest.dispose();
    this.inverse.dispose();
  }
}

/** Runs an operator owned elsewhere (disposing the wrapper leaves it alone). */
export class Borrowed extends Module {
  constructor(readonly inner: Module) {
    super();
    if (inner.opId) this.opId = inner.opId;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.inner.forward(x);
  }
}

/**
 * The deployed form of an operator that is not gated (or a gate's chosen candidate): ReLU and
 * MaxPool become metered copies; any other operator runs as it is (borrowed, not owned).
 */
export function meteredOp(op: Module, counter: SecureOpCounter): Module {
  if (op instanceof ReLU) return new MeteredReLU(counter);
  if (op instanceof MaxPool2d) return new MeteredMaxPool2d(counter, op.kernel, op.stride, op.pad);
  return new Borrowed(op);
}
