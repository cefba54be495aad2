import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { maxPool2d } from '../../src/engine/pool.js';
import { relErr } from '../helpers.js';

async function cpuGrad(x: number[], shape: [number, number, number, number], k: number, s: number, pad: number, r: number[]) {
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const xt = tf.tensor(x, shape) as tf.Tensor4D;
      const y = tf.maxPool(xt, k, s, pad);
      const rt = tf.tensor(r.slice(0, y.size), y.shape);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), rt)))(xt).dataSync();
    });
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('maxPool2d with composed gradient', () => {
  const configs: { shape: [number, number, number, number]; k: number; s: number; pad: number }[] = [
    { shape: [2, 4, 4, 3], k: 2, s: 2, pad: 0 },
    { shape: [2, 5, 5, 2], k: 3, s: 2, pad: 1 },
    { shape: [1, 7, 6, 2], k: 3, s: 1, pad: 1 },
    { shape: [1, 6, 6, 1], k: 2, s: 3, pad: 0 },
  ];
  for (const c of configs) {
    it(`matches the cpu backend's MaxPoolGrad for k${c.k} s${c.s} p${c.pad} on ${c.shape.join('x')}`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const x = Array.from(tf.randomNormal([n], 0, 1, 'float32', 3).dataSync());
      const r = Array.from(tf.randomNormal([n], 0, 1, 'float32', 4).dataSync());
      const ref = await cpuGrad(x, c.shape, c.k, c.s, c.pad, r);
      const ours = tf.tidy(() => {
        const xt = tf.tensor(x, c.shape) as tf.Tensor4D;
        const y = maxPool2d(xt, c.k, c.s, c.pad);
        const rt = tf.tensor(r.slice(0, y.size), y.shape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool2d(a as tf.Tensor4D, c.k, c.s, c.pad), rt)))(xt).dataSync();
      });
      expect(relErr(ref, ours)).toBeLessThan(1e-6);
    });
  }

  it('sends the gradient of a tied window to exactly one input', () => {
    const g = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(maxPool2d(a as tf.Tensor4D, 2, 2, 0)))(tf.ones([1, 2, 2, 1])).dataSync());
    expect(Array.from(g)).toEqual([1, 0, 0, 0]);
  });
});
