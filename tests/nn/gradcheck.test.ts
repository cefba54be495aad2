import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { InitRng } from '../../src/nn/init.js';
import { AvgPool2d, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU, Sequential } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { seededPermutation } from '../../src/data/loader.js';
import { BasicBlock, Bottleneck } from '../../src/backbones/resnet.js';

/**
 * Directional finite-difference check: for a random direction v over the input and every weight,
 * (L(θ+εv) − L(θ−εv)) / 2ε must equal ⟨∇L, v⟩ from autodiff, with L = Σ f(x)·r for a fixed random r.
 * Inputs of piecewise-linear modules are drawn on a grid away from the kinks (|x| ≥ 0.05, values
 * all distinct, spaced by 0.1) so that the ±εv perturbation never crosses one.
 */
function directionalCheck(m: Module, inputShape: number[], opts: { eps?: number; gridInput?: boolean } = {}): { fd: number; ad: number } {
  const eps = opts.eps ?? 1e-2;
  return tf.tidy(() => {
    const n = inputShape.reduce((a, b) => a * b, 1);
    const x = opts.gridInput
      ? tf.tensor(Float32Array.from(seededPermutation(n, 11), (k) => (k - Math.floor(n / 2)) * 0.1 + 0.05), inputShape)
      : tf.randomNormal(inputShape, 0, 1, 'float32', 11);
    const vars = m.weightVariables();
    const y0 = m.forward(x);
    const r = tf.randomNormal(y0.shape, 0, 1, 'float32', 12);
    const loss = (xi: tf.Tensor) => tf.sum(tf.mul(m.forward(xi), r)) as tf.Scalar;
    // Direction: small where inputs sit on the grid so kinks stay uncrossed.
    const vScale = opts.gridInput ? 0.5 : 1;
    const vx = tf.mul(tf.randomNormal(inputShape, 0, 1, 'float32', 13), vScale);
    const vw = vars.map((v, i) => tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 100 + i), vScale));
    const gx = tf.grad((xi: tf.Tensor) => loss(xi))(x);
    const grads = vars.length ? tf.variableGrads(() => loss(x), vars).grads : {};
    let ad = tf.sum(tf.mul(gx, vx)).dataSync()[0]!;
    vars.forEach((v, i) => (ad += tf.sum(tf.mul(grads[v.name]!, vw[i]!)).dataSync()[0]!));
    const orig = vars.map((v) => tf.clone(v));
    const shifted = (sign: number) => {
      vars.forEach((v, i) => v.assign(tf.add(orig[i]!, tf.mul(vw[i]!, sign * eps))));
      return loss(tf.add(x, tf.mul(vx, sign * eps))).dataSync()[0]!;
    };
    const fd = (shifted(1) - shifted(-1)) / (2 * eps);
    vars.forEach((v, i) => v.assign(orig[i]!));
    return { fd, ad };
  });
}

const rng = () => new InitRng(3);
const CASES: { name: string; make: () => Module; shape: number[]; grid?: boolean; train?: boolean; eps?: number }[] = [
  { name: 'Conv2d 3×3 stride 1 with bias', make: () => new Conv2d(3, 4, 3, { bias: true, rng: rng() }), shape: [2, 6, 6, 3] },
  { name: 'Conv2d 3×3 stride 2', make: () => new Conv2d(3, 4, 3, { stride: 2, rng: rng() }), shape: [2, 7, 7, 3] },
  { name: 'Conv2d 1×1 stride 2', make: () => new Conv2d(4, 2, 1, { stride: 2, pad: 0, rng: rng() }), shape: [2, 6, 6, 4] },
  { name: 'Conv2d grouped (groups 2)', make: () => new Conv2d(4, 6, 3, { groups: 2, rng: rng() }), shape: [2, 5, 5, 4] },
  { name: 'Conv2d depthwise stride 2', make: () => new Conv2d(4, 4, 3, { groups: 4, stride: 2, rng: rng() }), shape: [2, 6, 6, 4] },
  { name: 'BatchNorm2d (train mode)', make: () => new BatchNorm2d(3), shape: [4, 3, 3, 3], train: true },
  { name: 'BatchNorm2d (eval mode)', make: () => new BatchNorm2d(3), shape: [4, 3, 3, 3], train: false },
  { name: 'Linear', make: () => new Linear(5, 3, { rng: rng() }), shape: [4, 5] },
  { name: 'ReLU', make: () => new ReLU(), shape: [3, 4, 4, 2], grid: true },
  { name: 'MaxPool2d 2×2', make: () => new MaxPool2d(2), shape: [2, 4, 4, 3], grid: true },
  { name: 'MaxPool2d 3×3 stride 2 pad 1', make: () => new MaxPool2d(3, 2, 1), shape: [2, 5, 5, 2], grid: true },
  { name: 'AvgPool2d 2×2', make: () => new AvgPool2d(2), shape: [2, 4, 4, 3] },
  { name: 'GlobalAvgPool', make: () => new GlobalAvgPool(), shape: [2, 3, 3, 4] },
  { name: 'Sequential(Conv2d, BatchNorm2d)', make: () => new Sequential(new Conv2d(2, 3, 3, { rng: rng() }), new BatchNorm2d(3)), shape: [3, 4, 4, 2], train: true },
  { name: 'BasicBlock with projection (eval)', make: () => new BasicBlock(2, 4, 2, rng()), shape: [2, 6, 6, 2], train: false, eps: 1e-3 },
  { name: 'Bottleneck (eval)', make: () => new Bottleneck(4, 2, 1, rng()), shape: [2, 4, 4, 4], train: false, eps: 1e-3 },
];

describe('gradients of every module agree with finite differences', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const m = c.make();
      m.train(c.train ?? true);
      const { fd, ad } = directionalCheck(m, c.shape, { gridInput: c.grid ?? false, ...(c.eps ? { eps: c.eps } : {}) });
      expect(Math.abs(ad)).toBeGreaterThan(1e-3);
      expect(Math.abs(fd - ad) / Math.abs(ad)).toBeLessThan(2e-2);
      m.dispose();
    });
  }
});
