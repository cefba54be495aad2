import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { BatchNorm2d } from '../../src/nn/layers.js';

describe('BatchNorm2d', () => {
  // Hand values: channel 0 sees {1, 3, 5, 7}, channel 1 sees {2, 2, 2, 6} (batch 2, 1×2 pixels).
  // mean = (4, 3); biased var = (5, 3); unbiased var = (20/3, 4); momentum 0.1.
  const x = () => tf.tensor4d([1, 2, 3, 2, 5, 2, 7, 6], [2, 1, 2, 2]);

  it('normalises with batch statistics in training and updates running statistics like PyTorch', () => {
    const bn = new BatchNorm2d(2);
    const y = tf.tidy(() => bn.forward(x()).dataSync());
    const expected = [(1 - 4) / Math.sqrt(5 + 1e-5), (2 - 3) / Math.sqrt(3 + 1e-5), (3 - 4) / Math.sqrt(5 + 1e-5), (2 - 3) / Math.sqrt(3 + 1e-5)];
    expected.forEach((e, i) => expect(y[i]).toBeCloseTo(e, 5));
    expect(Array.from(bn.runningMean.dataSync())).toEqual([expect.closeTo(0.4, 6), expect.closeTo(0.3, 6)]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([expect.closeTo(0.9 + 0.1 * (20 / 3), 6), expect.closeTo(0.9 + 0.1 * 4, 6)]);
    // Second step: running ← 0.9·running + 0.1·batch.
    tf.tidy(() => bn.forward(x()));
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.9 * 0.4 + 0.4, 6);
    expect(bn.runningVar.dataSync()[1]).toBeCloseTo(0.9 * 1.3 + 0.4, 6);
    bn.dispose();
  });

  it('uses running statistics, gamma and beta in eval mode and leaves them unchanged', () => {
    const bn = new BatchNorm2d(2);
    tf.tidy(() => {
      bn.runningMean.assign(tf.tensor1d([1, -1]));
      bn.runningVar.assign(tf.tensor1d([4, 0.25]));
      bn.gamma.assign(tf.tensor1d([2, 1]));
      bn.beta.assign(tf.tensor1d([0.5, 0]));
    });
    bn.eval();
    const y = tf.tidy(() => bn.forward(tf.tensor4d([3, 0], [1, 1, 1, 2])).dataSync());
    expect(y[0]).toBeCloseTo((2 * (3 - 1)) / Math.sqrt(4 + 1e-5) + 0.5, 5);
    expect(y[1]).toBeCloseTo((0 + 1) / Math.sqrt(0.25 + 1e-5), 5);
    expect(Array.from(bn.runningMean.dataSync())).toEqual([1, -1]);
    bn.dispose();
  });

  it('updates running statistics inside a gradient tape without leaking tensors', () => {
    const bn = new BatchNorm2d(2);
    const step = () => tf.tidy(() => tf.variableGrads(() => tf.sum(tf.square(bn.forward(x()))) as tf.Scalar, bn.weightVariables()).value);
    step().dispose();
    const before = tf.memory().numTensors;
    step().dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.9 * 0.4 + 0.4, 6);
    bn.dispose();
  });
});
