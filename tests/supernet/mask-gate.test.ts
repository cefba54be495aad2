import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { ChannelPoly } from '../../src/ops/poly.js';
import { MaskGate } from '../../src/supernet/mask-gate.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { costChoices, searchableRelus } from '../../src/supernet/gate.js';
import { continuousL1 } from '../../src/supernet/mask-rules.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { projectAndFreeze, projectToBudget, resolveBudget } from '../../src/search/budget.js';
import { costLayers } from '../../src/latency/network.js';
import { leakedTensors } from '../helpers.js';

const poly = (c: number) => {
  const p = new ChannelPoly(c, { degree: 2 });
  p.opId = 'poly2';
  return p;
};
const gate = (granularity: 'pixel' | 'channel' | 'layer', shape = [2, 2, 3]) => new MaskGate(poly(shape[shape.length - 1]!), shape, { granularity, seed: 1 });

describe('AutoReP mask gate', () => {
  it('hysteresis: a ReLU leaves only below −t and returns only above +t', () => {
    const g = gate('channel');
    tf.tidy(() => g.alpha.assign(tf.tensor1d([-0.002, -0.004, 0.5])));
    g.updateMask();
    expect(Array.from(g.mask.dataSync())).toEqual([1, 0, 1]);
    tf.tidy(() => g.alpha.assign(tf.tensor1d([-0.002, 0.002, 0.5])));
    g.updateMask();
    expect(Array.from(g.mask.dataSync())).toEqual([1, 0, 1]); // 0.002 < t: stays removed
    tf.tidy(() => g.alpha.assign(tf.tensor1d([-0.002, 0.004, 0.5])));
    g.updateMask();
    expect(Array.from(g.mask.dataSync())).toEqual([1, 1, 1]);
    g.dispose();
  });

  it('straight-through gradient: ∂L/∂α = softplus(α)·∂L/∂m', () => {
    const g = gate('pixel');
    const r = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 3);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(g.steMask(), r)) as tf.Scalar, [g.alpha]);
    const expected = tf.mul(tf.softplus(g.alpha), r).dataSync();
    const got = grads[g.alpha.name]!.dataSync();
    Array.from(expected).forEach((e, i) => expect(got[i]).toBeCloseTo(e, 5));
    g.dispose();
  });

  it('outputs m·ReLU(x) + (1 − m)·poly(x) per element', () => {
    const g = gate('pixel', [1, 2, 1]);
    g.freeze([1, 0]);
    tf.tidy(() => (g.alt as ChannelPoly).coeffs.assign(tf.tensor2d([[1], [2], [3]])));
    const y = tf.tidy(() => g.forward(tf.tensor4d([-1, -1], [1, 1, 2, 1])).dataSync());
    // c0 + c1·x + 0.1·c2·x² (the x² scale, 0.1 by default) at x = −1.
    expect(Array.from(y)).toEqual([0, expect.closeTo(1 - 2 + 0.1 * 3, 6)]);
    g.dispose();
  });

  it('counts ReLUs by granularity', () => {
    const g = gate('channel', [4, 4, 3]);
    g.freeze([1, 0, 1]);
    expect(g.reluCount()).toBe(2 * 16);
    expect(g.unitSize()).toBe(16);
    g.dispose();
  });
});

describe('exact budgets', () => {
  it('projection keeps the highest scores and never exceeds the budget, for any granularity mix', () => {
    const a = gate('pixel', [2, 2, 2]); // 8 units of 1
    const b = gate('channel', [2, 2, 3]); // 3 units of 4
    tf.tidy(() => {
      a.alpha.assign(tf.tensor3d([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4], [2, 2, 2]));
      b.alpha.assign(tf.tensor1d([0.95, 0.5, 0.05]));
    });
    for (const B of [0, 1, 3, 4, 5, 9, 13, 20]) {
      const { keep, count } = projectToBudget([a, b], B);
      const kept = keep[0]!.reduce((s, v) => s + v, 0) + 4 * keep[1]!.reduce((s, v) => s + v, 0);
      expect(count).toBe(kept);
      expect(count).toBeLessThanOrEqual(B);
    }
    // B = 5: channel 0 (score 0.95, 4 ReLUs) then pixel 0.9 → 5 exactly.
    const p = projectToBudget([a, b], 5);
    expect(Array.from(p.keep[1]!)).toEqual([1, 0, 0]);
    expect(Array.from(p.keep[0]!)).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(resolveBudget(0.05, 6508)).toBe(325);
    expect(resolveBudget(1000, 6508)).toBe(1000);
    expect(() => resolveBudget(7000, 6508)).toThrow("budget 7000 exceeds the network's 6508 ReLUs");
    a.dispose();
    b.dispose();
  });

  it('a supernet frozen to a projection has exactly that many ReLUs in its count and its cost layers', async () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    const space = parseSearchSpace({ name: 'r20', backbone: 'resnet20', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } });
    const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
    expect(gates).toHaveLength(19); // the stem's site included
    const B = resolveBudget(0.05, searchableRelus(gates));
    expect(B).toBe(9420); // ⌊0.05 · 188,416⌋
    const count = projectAndFreeze(gates, B);
    expect(count).toBe(B); // pixel units fill the budget exactly
    expect(net.reluCount().total).toBe(count);
    const relus = costLayers(net, costChoices(gates)).filter((l) => l.op === 'relu').reduce((a, l) => a + l.sizes.outElements, 0);
    expect(relus).toBe(count);
    net.dispose();
  });

  it('a search step through the supernet leaks no tensors', async () => {
    const net = createBackbone('lenet5', { numClasses: 10 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'l', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
    const x = tf.randomNormal([4, 28, 28, 1]);
    const vars = [...net.weightVariables(), ...net.archVariables()];
    const step = () =>
      tf.tidy(() => {
        const { value } = tf.variableGrads(() => tf.add(tf.sum(net.forward(x)), tf.addN(gates.map((g) => g.gate.expectedRelus()))) as tf.Scalar, vars);
        return value;
      }).dispose();
    step();
    expect(leakedTensors(() => {
      step();
      step();
    })).toBe(0);
    net.dispose();
  });
});

describe('SNL mask rule (continuous)', () => {
  it('mixes with α itself, counts α > 0.01 as a ReLU, and scores only those for the projection', () => {
    const g = new MaskGate(poly(3), [2, 2, 3], { granularity: 'channel', seed: 1, rule: continuousL1 });
    expect(Array.from(g.alpha.dataSync())).toEqual([1, 1, 1]); // α starts at 1
    tf.tidy(() => g.alpha.assign(tf.tensor1d([0.5, 0.01, 0.02])));
    expect(g.reluCount()).toBe(2 * 4); // channels 0 and 2 (0.01 is not above the threshold)
    expect(Array.from(g.scores())).toEqual([0.5, -Infinity, expect.closeTo(0.02, 6)]);
    // Differentiable measure: L1 norm Σ|α| · unit.
    expect(tf.tidy(() => g.expectedRelus().dataSync()[0]!)).toBeCloseTo((0.5 + 0.01 + 0.02) * 4, 5);
    projectToBudget([g], 4).keep.forEach((k) => g.freeze(k));
    expect(Array.from(g.mask.dataSync())).toEqual([1, 0, 0]);
    expect(g.reluCount()).toBe(4);
    g.dispose();
  });

  it('serializes and restores its decisions (toSite → restore)', () => {
    const a = gate('pixel', [1, 2, 2]);
    a.freeze([1, 0, 0, 1]);
    const site = a.toSite();
    expect(site).toMatchObject({ gate: 'mask', kind: 'activation', op: 'poly2', granularity: 'pixel', keptRelus: 2, siteShape: [1, 2, 2] });
    const b = gate('pixel', [1, 2, 2]);
    b.restore(site);
    expect(Array.from(b.mask.dataSync())).toEqual([1, 0, 0, 1]);
    expect(b.isFrozen).toBe(true);
    expect(() => b.restore({ ...site, op: 'x2act' })).toThrow("site operator 'x2act' differs from the gate's 'poly2'");
    a.dispose();
    b.dispose();
  });
});
