import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { subset } from '../../src/data/dataset.js';
import { channelStats } from '../../src/data/loader.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildDartsSupernet, dartsSearch, hessianVectorProduct } from '../../src/search/darts.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { costLayers } from '../../src/latency/network.js';
import { networkCost } from '../../src/latency/cost.js';

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
  it('places softmax gates on activation and pool sites, runs first- and second-order steps without leaks, and discretizes', async () => {
    const all = await loadDataset({ name: 'mnist' });
    const train = subset(all.train, Int32Array.from({ length: 256 }, (_, i) => i * 30), 'mnist-256');
    const test = subset(all.test, Int32Array.from({ length: 100 }, (_, i) => i * 20), 'mnist-100');
    const data = { train, test, norm: channelStats(train) };
    const space = parseSearchSpace({ name: 'l', backbone: 'lenet5', activation: { candidates: ['relu', 'x2act'], granularity: 'layer' }, pool: { candidates: ['maxpool', 'avgpool'] } });
    const table = loadLatencyTable('pasnet-dac2023-code');
    for (const order of [1, 2] as const) {
      const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
      const { gates } = buildDartsSupernet(net, space, table);
      expect(gates.map((g) => g.path).sort()).toEqual(['act1', 'act2', 'act3', 'act4', 'pool1', 'pool2']);
      // Candidate costs come from the table: ReLU 13.6·N + 0.4 vs X2act 0.03·N + 0.2 at act1 (N = 28·28·6).
      expect(gates[0]!.costs[0]).toBeCloseTo(13.6 * 4704 + 0.4, 3);
      expect(gates[0]!.costs[1]).toBeCloseTo(0.03 * 4704 + 0.2, 3);
      const start = tf.memory().numTensors;
      const r = await dartsSearch(net, gates, data, { epochs: 1, batchSize: 32, order, seed: 0, latencyWeight: 50, archLr: 0.05 });
      expect(tf.memory().numTensors).toBeLessThanOrEqual(start + 2); // only what evaluation caches, no per-step growth
      expect(r.history).toHaveLength(1);
      // A strong latency weight pushes every gate towards its cheap candidate.
      expect(r.history[0]!.expectedLatency).toBeLessThan(0.45); // 0.5 at θ = 0
      expect(gates.map((g) => g.gate.choice()).sort()).toEqual(['avgpool', 'avgpool', 'x2act', 'x2act', 'x2act', 'x2act']);
      for (const g of gates) expect(g.gate.isFrozen).toBe(true);
      const cost = networkCost(costLayers(net), table);
      expect(cost.total).toBeGreaterThan(0);
      expect(net.reluCount().total).toBe(r.reluCount);
      net.dispose();
    }
  });
});
