/**
 * Training-step benchmark: forward, cross-entropy, backward and SGD update of ResNet-20 at 32×32×3
 * and LeNet-5 at 28×28×1 on the active backend; prints the median ms/step and images/s over
 * `--steps` timed steps after `--warmup` steps.
 *
 *   npm run bench -- [--backend auto|wasm|cpu|tensorflow] [--batch 64] [--steps 10] [--warmup 3] [--nets resnet20,lenet5]
 */
import { parseArgs } from 'node:util';
import { createBackbone, selectBackend, createOptimizer, crossEntropy, type BackendChoice } from '../src/index.js';
import { tf } from '../src/engine/index.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    nets: { type: 'string', default: 'resnet20,lenet5' },
  },
});

const info = await selectBackend(values.backend as BackendChoice);
const batch = Number(values.batch);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
console.log(`backend ${info.backend} (${info.package}), tfjs ${info.tfjsVersion}, batch ${batch}, ${steps} timed steps after ${warmup} warm-up`);

for (const name of values.nets!.split(',')) {
  const net = createBackbone(name, { numClasses: 10, seed: 0 });
  const [h, w, c] = net.inputShape;
  const x = tf.randomNormal([batch, h, w, c], 0, 1, 'float32', 1);
  const y = tf.randomUniformInt([batch], 0, 10, 2);
  const params = net.namedParameters('weight');
  const vars = params.map(([, v]) => v);
  const opt = createOptimizer(params, { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y), vars);
      opt.step(grads, 0.01);
      return value;
    });
    loss.dataSync();
    loss.dispose();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)]!;
  console.log(
    `${name.padEnd(10)} ${String([h, w, c].join('x')).padEnd(8)} median ${med.toFixed(1)} ms/step  ${((batch * 1000) / med).toFixed(1)} img/s  (min ${times[0]!.toFixed(1)}, max ${times[times.length - 1]!.toFixed(1)})`,
  );
  opt.dispose();
  net.dispose();
  x.dispose();
  y.dispose();
}
