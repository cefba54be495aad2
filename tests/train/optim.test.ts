import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { Adam, Sgd, type NamedVariable } from '../../src/train/optim.js';
import { learningRate } from '../../src/train/schedule.js';

function scalarVar(v: number): NamedVariable {
  return ['w', tf.variable(tf.scalar(v))];
}

function run(opt: { step(g: Record<string, tf.Tensor>, lr: number): void }, p: NamedVariable, grads: number[], lr: number): number[] {
  return grads.map((g) => {
    const t = tf.scalar(g);
    opt.step({ [p[1].name]: t }, lr);
    t.dispose();
    return p[1].dataSync()[0]!;
  });
}

describe('SGD (PyTorch semantics)', () => {
  it('momentum 0.9 and weight decay 0.1: hand-computed two steps', () => {
    const p = scalarVar(1);
    // step 1: g = 2 + 0.1·1 = 2.1, b = 2.1, w = 1 − 0.5·2.1 = −0.05
    // step 2: g = 2 + 0.1·(−0.05) = 1.995, b = 0.9·2.1 + 1.995 = 3.885, w = −0.05 − 0.5·3.885 = −1.9925
    const w = run(new Sgd([p], { type: 'sgd', momentum: 0.9, weightDecay: 0.1 }), p, [2, 2], 0.5);
    expect(w[0]).toBeCloseTo(-0.05, 6);
    expect(w[1]).toBeCloseTo(-1.9925, 5);
  });

  it('Nesterov: hand-computed two steps', () => {
    const p = scalarVar(1);
    // step 1: b = 2.1, g = 2.1 + 0.9·2.1 = 3.99, w = 1 − 1.995 = −0.995
    // step 2: g = 2 − 0.0995 = 1.9005, b = 1.89 + 1.9005 = 3.7905, g = 1.9005 + 3.41145 = 5.31195, w = −0.995 − 2.655975
    const w = run(new Sgd([p], { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 }), p, [2, 2], 0.5);
    expect(w[0]).toBeCloseTo(-0.995, 5);
    expect(w[1]).toBeCloseTo(-3.650975, 5);
  });

  it('saves and restores its momentum so that a resumed run continues identically', () => {
    const a = scalarVar(1);
    const optA = new Sgd([a], { type: 'sgd', momentum: 0.9 });
    run(optA, a, [2], 0.1);
    const b = scalarVar(a[1].dataSync()[0]!);
    const optB = new Sgd([b], { type: 'sgd', momentum: 0.9 });
    optB.loadState(optA.state());
    expect(run(optB, b, [1], 0.1)).toEqual(run(optA, a, [1], 0.1));
  });
});

describe('Adam', () => {
  /** Reference in float64, PyTorch's formulas. */
  function reference(grads: number[], lr: number, wd: number, decoupled: boolean): number[] {
    let w = 1, m = 0, v = 0;
    return grads.map((g0, i) => {
      const t = i + 1;
      const g = wd && !decoupled ? g0 + wd * w : g0;
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const upd = m / (1 - 0.9 ** t) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
      w = (decoupled ? w * (1 - lr * wd) : w) - lr * upd;
      return w;
    });
  }
  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW (decoupled decay)' : 'Adam with L2 decay'} follows the reference over three steps`, () => {
      const p = scalarVar(1);
      const got = run(new Adam([p], { type: 'adam', weightDecay: 0.05, decoupled }), p, [2, -1, 0.5], 0.1);
      reference([2, -1, 0.5], 0.1, 0.05, decoupled).forEach((r, i) => expect(got[i]).toBeCloseTo(r, 5));
    });
  }
});

describe('learning-rate schedule', () => {
  it('warms up linearly, then follows a cosine to minLr', () => {
    const cfg = { type: 'cosine' as const, lr: 0.1, warmupSteps: 10 };
    expect(learningRate(cfg, 0, 110)).toBeCloseTo(0.01, 10);
    expect(learningRate(cfg, 9, 110)).toBeCloseTo(0.1, 10);
    expect(learningRate(cfg, 10, 110)).toBeCloseTo(0.1, 10);
    expect(learningRate(cfg, 60, 110)).toBeCloseTo(0.05, 10);
    expect(learningRate({ ...cfg, minLr: 0.001 }, 110, 110)).toBeCloseTo(0.001, 10);
    expect(learningRate({ type: 'constant', lr: 0.3 }, 50, 100)).toBe(0.3);
  });
});
