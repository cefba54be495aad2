import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { InitRng } from '../../src/nn/init.js';
import { Conv2d, Linear, Sequential } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { crossEntropy } from '../../src/train/losses.js';
import { Sgd } from '../../src/train/optim.js';

class Gate extends Module {
  readonly theta = this.param('theta', tf.zeros([2]), 'arch');
  readonly inner = this.module('inner', new Linear(2, 2, { rng: new InitRng(0) }));
  readonly mask = this.buffer('mask', tf.ones([2]));
  forward(x: tf.Tensor) {
    return tf.mul(this.inner.forward(x), tf.softmax(this.theta));
  }
}

describe('Module', () => {
  it('names parameters by dotted path and keeps weight and architecture collections disjoint', () => {
    const m = new Sequential(new Gate(), new Conv2d(1, 2, 3, { rng: new InitRng(0) }));
    expect(m.namedParameters().map(([p]) => p)).toEqual(['0.theta', '0.inner.weight', '0.inner.bias', '1.weight']);
    expect(m.namedParameters('arch').map(([p]) => p)).toEqual(['0.theta']);
    expect(m.weightVariables()).toHaveLength(3);
    expect(m.archVariables()).toHaveLength(1);
    expect(m.namedBuffers().map(([p]) => p)).toEqual(['0.mask']);
    m.dispose();
  });

  it('propagates train/eval mode to every descendant', () => {
    const m = new Sequential(new Gate(), new Sequential(new Gate()));
    m.eval();
    expect(m.namedModules().every(([, c]) => !c.training)).toBe(true);
    m.train();
    expect(m.namedModules().every(([, c]) => c.training)).toBe(true);
    m.dispose();
  });

  it('round-trips its state and reports every mismatch of a bad state at once', () => {
    const a = new Gate();
    const b = new Gate();
    tf.tidy(() => a.theta.assign(tf.tensor1d([0.3, -0.7])));
    b.loadStateDict(a.stateDict());
    expect(Array.from(b.theta.dataSync())).toEqual(Array.from(a.theta.dataSync()));
    const bad = a.stateDict();
    delete bad['mask'];
    bad['inner.weight'] = { shape: [3, 2], values: new Float32Array(6) };
    bad['extra'] = { shape: [1], values: new Float32Array(1) };
    const err = (() => {
      try {
        b.loadStateDict(bad);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(err).toContain("missing 'mask'");
    expect(err).toContain("'inner.weight' has shape [3,2] but the module expects [2,2]");
    expect(err).toContain("unexpected 'extra'");
    a.dispose();
    b.dispose();
  });

  it('throws when a name is registered twice', () => {
    class Twice extends Module {
      constructor() {
        super();
        this.param('w', tf.zeros([1]));
        this.param('w', tf.zeros([1]));
      }
      forward(x: tf.Tensor) {
        return x;
      }
    }
    expect(() => new Twice()).toThrow("'w' is registered twice");
  });

  it('builds identical weights from the same seed and different ones from another', () => {
    const a = createBackbone('resnet20', { numClasses: 10, seed: 5 });
    const b = createBackbone('resnet20', { numClasses: 10, seed: 5 });
    const c = createBackbone('resnet20', { numClasses: 10, seed: 6 });
    const w = (m: Module) => Array.from(m.namedParameters()[0]![1].dataSync().slice(0, 8));
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  for (const name of ['lenet5', 'resnet20', 'mobilenetv2']) {
    it(`${name}: forward and a full training step leak no tensors after warm-up`, () => {
      const net = createBackbone(name, { numClasses: 10, seed: 0 });
      const [h, w, c] = net.inputShape;
      const x = tf.randomNormal([2, h, w, c]);
      const y = tf.tensor1d([1, 7], 'int32');
      const params = net.namedParameters('weight');
      const opt = new Sgd(params, { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
      const step = () => {
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y), params.map(([, v]) => v));
          opt.step(grads, 0.01);
          return value;
        });
        loss.dispose();
        tf.tidy(() => net.eval().forward(x)).dispose();
        net.train();
      };
      step();
      const before = tf.memory().numTensors;
      step();
      step();
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      net.dispose();
      x.dispose();
      y.dispose();
    });
  }
});
