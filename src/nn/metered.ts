import { tf } from '../engine/tf.js';
import { MaxPool2d, ReLU } from './layers.js';

/**
 * Secure comparisons one site of a deployed network evaluated, per sample, summed over the forward
 * passes since the last reset: ReLU evaluations (the elements that reached the ReLU kernel) and
 * max-pool comparisons (v − 1 per window of v valid inputs).
 */
export class SecureOpCounter {
  relus = 0;
  comparisons = 0;
  reset(): void {
    this.relus = 0;
    this.comparisons = 0;
  }
}

/** ReLU that counts the elements it evaluates into a {@link SecureOpCounter} (instrumentation of deployed networks). */
export class MeteredReLU extends ReLU {
  constructor(readonly counter: SecureOpCounter) {
    super();
  }
  override forward(x: tf.Tensor): tf.Tensor {
    this.counter.relus += x.size / x.shape[0]!;
    return super.forward(x);
  }
}

/** MaxPool that counts its secure comparisons into a {@link SecureOpCounter}. */
export class MeteredMaxPool2d extends MaxPool2d {
  constructor(
    readonly counter: SecureOpCounter,
    kernel: number,
    stride: number,
    pad: number,
  ) {
    super(kernel, stride, pad);
  }
  override forward(x: tf.Tensor): tf.Tensor {
    this.counter.comparisons += this.comparisons(x.shape.slice(1));
    return super.forward(x);
  }
}
