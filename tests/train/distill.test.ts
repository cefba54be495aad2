import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { subset } from '../../src/data/dataset.js';
import { batches, channelStats } from '../../src/data/loader.js';
import { distillationLoss } from '../../src/train/losses.js';
import { fit, type Distillation, type TrainConfig } from '../../src/train/trainer.js';

describe('training with knowledge distillation', () => {
  it('adds weight·T²·KL(teacher ‖ student) to the cross-entropy of each step', async () => {
    const all = await loadDataset({ name: 'mnist' });
    const train = subset(all.train, Int32Array.from({ length: 32 }, (_, i) => i * 50), 'mnist-32');
    const data = { train, test: subset(all.test, Int32Array.from([0, 1, 2, 3]), 't4'), norm: channelStats(train) };
    const config: TrainConfig = { epochs: 1, batchSize: 32, seed: 1, optimizer: { type: 'sgd' }, schedule: { type: 'constant', lr: 0.01 } };
    const firstLoss = async (distill?: Distillation) => {
      let loss = NaN;
      const student = createBackbone('lenet5', { numClasses: 10, seed: 3 });
      await fit(student, data, config, { hooks: { onStep: (e) => (loss = e.loss) }, ...(distill ? { distill } : {}) });
      student.dispose();
      return loss;
    };
    const ce = await firstLoss();
    const twin = createBackbone('lenet5', { numClasses: 10, seed: 3 });
    expect(await firstLoss({ teacher: twin })).toBeCloseTo(ce, 5); // identical nets: KL = 0
    const teacher = createBackbone('lenet5', { numClasses: 10, seed: 7 });
    const withKd = await firstLoss({ teacher, temperature: 4, weight: 0.5 });
    // Reference: the same first batch through a fresh student and the teacher.
    const batch = batches(train, { batchSize: 32, norm: data.norm, shuffle: true, seed: 1, epoch: 0, dropLast: true }).next().value!;
    const student = createBackbone('lenet5', { numClasses: 10, seed: 3 });
    const kd = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [32, 28, 28, 1]);
      return distillationLoss(student.forward(x), teacher.eval().forward(x), 4).dataSync()[0]!;
    });
    expect(kd).toBeGreaterThan(1e-4);
    expect(withKd).toBeCloseTo(ce + 0.5 * kd, 4);
    [twin, teacher, student].forEach((m) => m.dispose());
  });
});
