import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { conv2d, depthwiseConv2d } from '../../src/engine/conv.js';
import { relErr } from '../helpers.js';

type Case = { b: number; h: number; w: number; ci: number; co: number; k: number; stride: number; pad: number };
const CASES: Case[] = [
  { b: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, stride: 1, pad: 1 }, // 'same' 3×3
  { b: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, stride: 2, pad: 1 }, // stride 2, even input
  { b: 2, h: 7, w: 7, ci: 3, co: 4, k: 3, stride: 2, pad: 1 }, // stride 2, odd input
  { b: 2, h: 8, w: 8, ci: 4, co: 5, k: 1, stride: 2, pad: 0 }, // 1×1 projection shortcut
  { b: 1, h: 9, w: 9, ci: 2, co: 3, k: 5, stride: 2, pad: 2 }, // 5×5
  { b: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, stride: 1, pad: 0 }, // 'valid'
  { b: 2, h: 12, w: 12, ci: 3, co: 2, k: 7, stride: 2, pad: 3 }, // ImageNet stem
  { b: 2, h: 8, w: 8, ci: 2, co: 2, k: 4, stride: 2, pad: 1 }, // even kernel
  { b: 2, h: 10, w: 6, ci: 3, co: 4, k: 3, stride: 3, pad: 1 }, // stride 3, non-square input
];

/** Output and gradients of Σ conv(x,w)·r, by the given convolution. */
function valueAndGrads(f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor4D, seed: number) {
  return tf.tidy(() => {
    const y = f(x, w);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', seed);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
    return [y.dataSync(), gx!.dataSync(), gw!.dataSync()] as const;
  });
}

async function onCpu<T>(fn: () => T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('composed convolution gradients', () => {
  for (const c of CASES) {
    const label = `${c.h}x${c.w}x${c.ci}→${c.co} k${c.k} s${c.stride} p${c.pad}`;
    const pads: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]];

    it(`conv2d ${label} matches the cpu backend's stock kernels (rel. error ≤ 1e-5)`, async () => {
      const make = () => [tf.randomNormal([c.b, c.h, c.w, c.ci], 0, 1, 'float32', 1), tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 1, 'float32', 2)] as tf.Tensor4D[];
      const ref = await onCpu(() => {
        const [x, w] = make();
        return valueAndGrads((a, b) => tf.conv2d(a, b, c.stride, pads), x!, w!, 3);
      });
      const [x, w] = make();
      const ours = valueAndGrads((a, b) => conv2d(a, b, { stride: c.stride, pad: c.pad }), x!, w!, 3);
      for (let i = 0; i < 3; i++) expect(relErr(ref[i]!, ours[i]!)).toBeLessThan(1e-5);
    });

    it(`depthwiseConv2d ${label} matches the cpu backend's stock kernels`, async () => {
      const make = () => [tf.randomNormal([c.b, c.h, c.w, c.ci], 0, 1, 'float32', 4), tf.randomNormal([c.k, c.k, c.ci, 1], 0, 1, 'float32', 5)] as tf.Tensor4D[];
      const ref = await onCpu(() => {
        const [x, w] = make();
        return valueAndGrads((a, b) => tf.depthwiseConv2d(a, b, c.stride, pads), x!, w!, 6);
      });
      const [x, w] = make();
      const ours = valueAndGrads((a, b) => depthwiseConv2d(a, b, { stride: c.stride, pad: c.pad }), x!, w!, 6);
      for (let i = 0; i < 3; i++) expect(relErr(ref[i]!, ours[i]!)).toBeLessThan(1e-5);
    });
  }

  it('rejects a padding larger than kernel−1 and a channel mismatch, naming the value', () => {
    const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => conv2d(x, tf.zeros([3, 3, 2, 2]) as tf.Tensor4D, { stride: 1, pad: 3 })).toThrow(/pad must be an integer in \[0, kernel-1=2\], got 3/);
    expect(() => conv2d(x, tf.zeros([3, 3, 3, 2]) as tf.Tensor4D, { stride: 1, pad: 1 })).toThrow(/input has 2 channels but the filter expects 3/);
  });

  it('leaves no tensor behind in a gradient computation', () => {
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([3, 3, 3, 4]));
    const step = () => tf.tidy(() => tf.variableGrads(() => tf.sum(conv2d(x, w as unknown as tf.Tensor4D, { stride: 2, pad: 1 })), [w]).value);
    step().dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
