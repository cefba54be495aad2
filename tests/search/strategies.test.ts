import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { keptRelus, searchableRelus } from '../../src/supernet/gate.js';
import type { DartsGate } from '../../src/supernet/darts-gate.js';
import { hessianVectorProduct } from '../../src/search/strategies/hvp.js';
import { searchSupernet } from '../../src/search/loop.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { costLayers } from '../../src/latency/network.js';
import { networkCost } from '../../src/latency/cost.js';
import { costChoices } from '../../src/supernet/gate.js';
import { deployedCheck, mnistSlice } from '../helpers.js';
import { measureDeployed } from '../../src/export/deploy.js';
import { toArchitecture } from '../../src/export/architecture.js';

describe('DARTS second-order step', () => {
  it('the finite-difference Hessian-vector product at the original weights matches the exact one (nested autodiff)', () => {
    // Tiny gated model: y = p0·z + p1·z² with z = w·x, p = softmax(θ); L = ½(y − t)².
    const w = tf.variable(tf.tensor1d([0.3, -0.2, 0.5]));
    const theta = tf.variable(tf.tensor1d([0.1, -0.4]));
    const x = tf.tensor1d([1, 2, -1]);
    const v = tf.tensor1d([0.5, 1, -2]);
    const model = (ww: tf.Tensor, th: tf.Tensor) => {
      const p = tf.softmax(th as tf.Tensor1D);
      const z = tf.sum(tf.mul(ww, x));
      const y = tf.add(tf.mul(tf.sum(tf.slice(p, [0], [1])), z), tf.mul(tf.sum(tf.slice(p, [1], [1])), tf.square(z)));
      return tf.mul(tf.square(tf.sub(y, 1)), 0.5) as tf.Scalar;
    };
    // Exact: ∇θ ⟨∇ω L(ω, θ), v⟩ by differentiating the gradient.
    const exact = tf.grad((th: tf.Tensor) => tf.sum(tf.mul(tf.grad((ww: tf.Tensor) => model(ww, th))(w), v)))(theta).dataSync();
    const before = Array.from(w.dataSync());
    const hvp = hessianVectorProduct(() => model(w, theta), [w], [theta], [v]);
    const got = hvp[theta.name]!.dataSync();
    Array.from(exact).forEach((e, i) => expect(got[i]).toBeCloseTo(e, 2));
    expect(Math.abs(exact[0]!)).toBeGreaterThan(0.5);
    expect(Array.from(w.dataSync())).toEqual(before); // weights restored exactly
  });
});

describe('DARTS search with the latency term', () => {
  it('places softmax gates on activation and pool sites, steps first and second order without leaks, and discretizes', async () => {
    const data = await mnistSlice(256, 30, 100, 20);
    const space = parseSearchSpace({ name: 'l', backbone: 'lenet5', activation: { candidates: ['relu', 'x2act'], granularity: 'layer' }, pool: { candidates: ['maxpool', 'avgpool'] } });
    const table = loadLatencyTable('pasnet-dac2023-code');
    for (const order of [1, 2] as const) {
      const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
      const gates = await buildSupernet(net, space, { gate: 'darts', seed: 0 });
      expect(gates.map((g) => g.path).sort()).toEqual(['act1', 'act2', 'act3', 'act4', 'pool1', 'pool2']);
      expect(gates.map((g) => g.gate.siteKind)).toEqual(['activation', 'activation', 'activation', 'activation', 'pool', 'pool']);
      const start = tf.memory().numTensors;
      const epochs: number[] = [];
      const r = await searchSupernet(
        { strategy: 'darts', epochs: 1, batchSize: 32, order, latencyWeight: 50, archLr: 0.05 },
        { net, gates, data, seed: 0, latency: { table } },
        { onEpoch: (e) => epochs.push(e.expectedLatency!) },
      );
      // Evaluation caches nothing per step: the tensors left are exactly those before the search.
      expect(tf.memory().numTensors).toBe(start);
      expect(r.history).toHaveLength(1);
      // A strong latency weight pushes every gate towards its cheap candidate (0.5 of the all-ReLU latency at θ = 0 would be the start).
      expect(epochs[0]).toBeLessThan(0.45);
      expect(gates.map((g) => (g.gate as DartsGate).choice()).sort()).toEqual(['avgpool', 'avgpool', 'x2act', 'x2act', 'x2act', 'x2act']);
      for (const g of gates) expect(g.gate.isFrozen).toBe(true);
      // All-X2act, all-AvgPool LeNet-5 under PASNet's table: no ReLU is left, and the cost is the linear layers' plus the cheap ops'.
      expect(net.reluCount().total).toBe(0);
      expect(r.count).toBe(0);
      // The deployed form (chosen candidates only) gives the same logits and evaluates no ReLU.
      expect(await deployedCheck(net)).toEqual({ gap: expect.closeTo(0, 4), relus: 0 });
      const cost = networkCost(costLayers(net, costChoices(gates)), table);
      const allRelu = networkCost(costLayers(net, Object.fromEntries(gates.map((g) => [g.path, { op: g.gate.siteKind === 'pool' ? 'maxpool' : 'relu' }]))), table);
      expect(cost.total).toBeLessThan(0.1 * allRelu.total);
      net.dispose();
    }
  });

  it('with countMaxPool a kept MaxPool spends its comparisons from the budget: ReLUs + comparisons ≤ B, checked on the deployed network', async () => {
    const data = await mnistSlice(64, 30, 32, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const space = parseSearchSpace({ name: 'l', backbone: 'lenet5', activation: { candidates: ['relu', 'x2act'] }, pool: { candidates: ['maxpool', 'avgpool'] } });
    const gates = await buildSupernet(net, space, { gate: 'darts', seed: 0, countMaxPool: true });
    // LeNet-5: ReLUs 4,704 + 1,600 + 120 + 84 = 6,508; 2×2 max-pools 3,528 + 1,200 comparisons.
    expect(searchableRelus(gates)).toBe(6508 + 4728);
    const r = await searchSupernet({ strategy: 'darts', epochs: 1, batchSize: 32, budget: 5000, countMaxPool: true }, { net, gates, data, seed: 0 });
    const m = measureDeployed(net);
    expect(m.relus + m.comparisons).toBe(r.count);
    expect(r.count).toBeLessThanOrEqual(5000);
    const arch = toArchitecture(net, gates, { space, strategy: 'darts', seed: 0, budget: 5000, countMaxPool: true });
    expect(arch.relus).toMatchObject({ total: m.relus, maxPoolComparisons: m.comparisons, budgetIncludesMaxPool: true, budgetMet: true });
    // Kept MaxPools are comparisons, never ReLUs: both pools max, every activation X2act → 0 ReLUs, 4,728 comparisons.
    for (const { gate } of gates) (gate as DartsGate).choose(gate.siteKind === 'pool' ? 'maxpool' : 'x2act');
    const forced = toArchitecture(net, gates, { space, strategy: 'darts', seed: 0, budget: 5000, countMaxPool: true });
    expect(forced.relus).toMatchObject({ total: 0, maxPoolComparisons: 4728, budgetMet: true });
    expect(keptRelus(gates)).toBe(4728);
    net.dispose();
  });

  it('prices each candidate with the latency table at its site (ReLU 13.6·N + 0.4 vs X2act 0.03·N + 0.2 at act1, N = 28·28·6)', async () => {
    const data = await mnistSlice(64, 30, 32, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'l', backbone: 'lenet5', activation: { candidates: ['relu', 'x2act'] } }), { gate: 'darts', seed: 0 });
    const latencies: number[] = [];
    await searchSupernet({ strategy: 'darts', epochs: 1, batchSize: 32, archLr: 1e-9, lr: 1e-9 }, { net, gates, data, seed: 0, latency: { table: loadLatencyTable('pasnet-dac2023-code') } }, { onEpoch: (e) => latencies.push(e.expectedLatency!) });
    // θ stays ≈ 0: the expected latency is the mean of the candidates' costs over the all-ReLU cost.
    const N = [4704, 1600, 120, 84];
    const relu = N.reduce((a, n) => a + 13.6 * n + 0.4, 0);
    const x2 = N.reduce((a, n) => a + 0.03 * n + 0.2, 0);
    expect(latencies[0]).toBeCloseTo((relu + x2) / 2 / relu, 5);
    net.dispose();
  });
});

describe('AutoReP search', () => {
  it('anneals the count towards the budget, meets it exactly after projection, and leaks no tensors', async () => {
    const data = await mnistSlice(640, 12, 300, 6);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'p', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
    expect(searchableRelus(gates)).toBe(6508);
    const counts: number[] = [];
    const start = tf.memory().numTensors;
    const r = await searchSupernet({ strategy: 'autorep', budget: 0.2, epochs: 2, batchSize: 64 }, { net, gates, data, seed: 0 }, { onStep: (e) => counts.push(e.count!) });
    expect(tf.memory().numTensors).toBe(start);
    expect(counts).toHaveLength(20); // 640 / 64 steps per epoch, every step reports its count
    expect(counts[counts.length - 1]).toBeLessThan(counts[0]!);
    expect(r.countBeforeProjection).toBeLessThan(6508);
    expect(r.count).toBe(1301); // ⌊0.2 · 6508⌋, filled to the pixel
    expect(keptRelus(gates)).toBe(1301);
    expect(net.reluCount().total).toBe(1301);
    // Kept pixels gathered through ReLU, the rest through the quadratic: same logits, 1,301 ReLUs evaluated.
    expect(await deployedCheck(net)).toEqual({ gap: expect.closeTo(0, 4), relus: 1301 });
    // Offset control: α may travel 4 units over the search (max(lr, 4/20 steps)); the count meets the target.
    expect(r.resolved.alphaLr).toBeCloseTo(0.2, 12);
    expect(Math.abs(r.countBeforeProjection - 1301)).toBeLessThanOrEqual(0.1 * 1301);
    net.dispose();
  });
});

describe('the loop checks its inputs', () => {
  it('refuses gates of another kind or rule than the strategy searches, and a budgeted strategy without a budget', async () => {
    const data = await mnistSlice(64, 30, 32, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'p', backbone: 'lenet5', activation: { candidates: ['relu', 'identity'], granularity: 'channel' } }), { gate: 'mask', seed: 0 });
    const ctx = { net, gates, data, seed: 0 };
    await expect(searchSupernet({ strategy: 'snl', budget: 100, epochs: 1, batchSize: 32 }, ctx)).rejects.toThrow("the snl strategy needs mask gates with the 'continuous' rule; site 'act1' has 'hysteresis'");
    await expect(searchSupernet({ strategy: 'darts', epochs: 1, batchSize: 32 }, ctx)).rejects.toThrow("the darts strategy searches darts gates; site 'act1' holds a mask gate");
    await expect(searchSupernet({ strategy: 'autorep', epochs: 1, batchSize: 32 }, ctx)).rejects.toThrow('budget');
    net.dispose();
  });
});

describe('SNL search', () => {
  it("applies λ to SNL's unnormalised Σ|α|: at α = 1 the L1 term adds λ × the number of α (226 channels of LeNet-5)", async () => {
    const data = await mnistSlice(64, 30, 32, 20);
    const loss = async (lambda: number) => {
      const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
      const gates = await buildSupernet(net, parseSearchSpace({ name: 'snl', backbone: 'lenet5', activation: { candidates: ['relu', 'identity'], granularity: 'channel' } }), { gate: 'mask', rule: 'continuous', seed: 0 });
      const first: number[] = [];
      await searchSupernet({ strategy: 'snl', epochs: 1, batchSize: 64, budget: 6000, lambda }, { net, gates, data, seed: 0 }, { onStep: (e) => first.push(e.loss!) });
      net.dispose();
      return first[0]!;
    };
    // 6 + 16 + 120 + 84 channel α, each 1 at the first step.
    expect((await loss(1e-3)) - (await loss(1e-12))).toBeCloseTo(1e-3 * 226, 4);
  });

  it('raises λ by 1.1 after each epoch the count stalls, and freezes to at most B ReLUs with α > 0.01', async () => {
    const data = await mnistSlice(256, 30, 100, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'snl', backbone: 'lenet5', activation: { candidates: ['relu', 'identity'], granularity: 'channel' } }), { gate: 'mask', rule: 'continuous', seed: 0 });
    expect(keptRelus(gates)).toBe(6508); // α = 1 everywhere
    const start = tf.memory().numTensors;
    // λ grows from epoch 1 here (SNL's guard, and polynas' default, is epoch 5).
    const r = await searchSupernet({ strategy: 'snl', epochs: 3, batchSize: 32, budget: 2000, lr: 0.05, lambda: 20, lambdaGrowthFrom: 1 }, { net, gates, data, seed: 0 });
    expect(tf.memory().numTensors).toBe(start);
    // After each epoch from the guard on, λ grows ×1.1 exactly when the count did not improve on the best so far.
    expect(r.history).toHaveLength(3);
    let best = Infinity;
    let lambda = 20;
    r.history.forEach((h, e) => {
      if (e >= 1 && h.count >= best) lambda *= 1.1;
      best = Math.min(best, h.count);
      expect(h.lambda).toBeCloseTo(lambda, 9);
    });
    expect(r.history.some((h) => h.lambda! > 20)).toBe(true);
    expect(r.count).toBeLessThanOrEqual(2000);
    expect(net.reluCount().total).toBe(r.count);
    expect(await deployedCheck(net)).toEqual({ gap: expect.closeTo(0, 4), relus: r.count });
    for (const g of gates) expect(g.gate.isFrozen).toBe(true);
    net.dispose();
  });
});
