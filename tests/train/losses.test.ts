import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { clipByGlobalNorm, crossEntropy, distillationLoss } from '../../src/train/losses.js';
import { evaluate } from '../../src/train/metrics.js';
import { Flatten, Linear, Sequential } from '../../src/nn/layers.js';
import { InitRng } from '../../src/nn/init.js';

const val = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('losses', () => {
  it('cross-entropy equals −log softmax at the label', () => {
    expect(val(crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], 'int32')))).toBeCloseTo(Math.LN2, 6);
    // log(1 + e + e²) for logits (1,2,3), label 0; averaged with log(1 + e^−1 + e^−2)·… for label 2
    const l = val(crossEntropy(tf.tensor2d([[1, 2, 3], [1, 2, 3]]), tf.tensor1d([0, 2], 'int32')));
    const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
    expect(l).toBeCloseTo((lse - 1 + (lse - 3)) / 2, 5);
  });

  it('label smoothing mixes the one-hot target with the uniform distribution', () => {
    const logits = [1, 2, 3];
    const lse = Math.log(logits.reduce((a, z) => a + Math.exp(z), 0));
    const target = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3];
    const expected = -target.reduce((a, t, i) => a + t * (logits[i]! - lse), 0);
    expect(val(crossEntropy(tf.tensor2d([logits]), tf.tensor1d([0], 'int32'), 0.1))).toBeCloseTo(expected, 5);
  });

  it('distillation loss is T²·KL(softmax(t/T) ‖ softmax(s/T))', () => {
    const T = 2;
    const soft = (z: number[]) => {
      const e = z.map((v) => Math.exp(v / T));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const p = soft([0, 1]);
    const q = soft([1, 0]);
    const kl = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]!), 0);
    expect(val(distillationLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]]), T))).toBeCloseTo(T * T * kl, 5);
    expect(val(distillationLoss(tf.tensor2d([[1, 3]]), tf.tensor2d([[1, 3]]), 4))).toBeCloseTo(0, 6);
  });

  it('clips the global gradient norm', () => {
    const { grads, norm } = clipByGlobalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
    expect(norm).toBeCloseTo(5, 5);
    expect(grads.a!.dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(grads.b!.dataSync()[0]).toBeCloseTo(0.8, 5);
    expect(clipByGlobalNorm({ a: tf.tensor1d([0.3]) }, 1).grads.a!.dataSync()[0]).toBeCloseTo(0.3, 6);
  });
});

describe('evaluate', () => {
  it('computes top-1, top-5 and mean loss of known logits', () => {
    // logits = x·I + bias with bias (0,0,0,−1,−2,−3): x=(5,3,1) ranks classes 0,1,2,3,4,5.
    const model = new Sequential(new Flatten(), new Linear(3, 6, { rng: new InitRng(0) }));
    const lin = model.namedParameters();
    tf.tidy(() => {
      lin[0]![1].assign(tf.tensor2d([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]]));
      lin[1]![1].assign(tf.tensor1d([0, 0, 0, -1, -2, -3]));
    });
    const ds = {
      name: 'known', shape: [1, 1, 3] as [number, number, number], numClasses: 6,
      images: Uint8Array.from([5, 3, 1, 5, 3, 1, 5, 3, 1, 1, 3, 5]),
      labels: Int32Array.from([0, 4, 5, 2]),
    };
    const r = evaluate(model, ds, { norm: { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] }, batchSize: 3 });
    expect(r.top1).toBe(0.5);
    expect(r.top5).toBe(0.75);
    const lse = Math.log([5, 3, 1, -1, -2, -3].reduce((a, z) => a + Math.exp(z), 0));
    expect(r.loss).toBeCloseTo((lse - 5 + (lse + 2) + (lse + 3) + (lse - 5)) / 4, 4);
    model.dispose();
  });
});
