/**
 * Search-step benchmark: ms per step of an AutoReP step (weights + α, with a teacher) and of DARTS
 * first- and second-order steps (architecture step + weight step), on random data of the network's
 * input shape, batch 64. Each figure is the wall time of a search over N steps divided by N
 * (one tiny evaluation included).
 *
 *   npm run bench:search -- [--nets lenet5,resnet20] [--steps 6]
 */
import { parseArgs } from 'node:util';
import {
  buildSupernet, createBackbone, parseSearchSpace, searchSupernet, selectBackend,
  loadLatencyTable, type ImageDataset,
} from '../src/index.js';

const { values } = parseArgs({ options: { nets: { type: 'string', default: 'lenet5,resnet20' }, steps: { type: 'string', default: '6' }, batch: { type: 'string', default: '64' } } });
const info = await selectBackend('auto');
const steps = Number(values.steps);
const batch = Number(values.batch);
console.log(`backend ${info.backend}, batch ${batch}, ${steps} steps per figure`);

function randomData(shape: [number, number, number], n: number): ImageDataset {
  const size = shape[0] * shape[1] * shape[2];
  let s = 1;
  const images = Uint8Array.from({ length: n * size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
  return { name: 'random', images, labels: Int32Array.from({ length: n }, (_, i) => i % 10), shape, numClasses: 10 };
}

for (const name of values.nets!.split(',')) {
  const probe = createBackbone(name, { numClasses: 10 });
  const shape = probe.inputShape;
  probe.dispose();
  const norm = { mean: new Array(shape[2]).fill(0.5), std: new Array(shape[2]).fill(0.25) };
  const test = randomData(shape, batch);
  // AutoReP: one epoch of `steps` batches.
  {
    const net = createBackbone(name, { numClasses: 10, seed: 0 });
    const teacher = createBackbone(name, { numClasses: 10, seed: 1 }).eval();
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'b', backbone: name, activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
    const t0 = performance.now();
    await searchSupernet({ strategy: 'autorep', epochs: 1, batchSize: batch, budget: 1000 }, { net, gates, data: { train: randomData(shape, batch * steps), test, norm }, teacher, seed: 0 });
    console.log(`${name.padEnd(9)} autorep step      ${((performance.now() - t0) / steps).toFixed(1)} ms`);
    net.dispose();
    teacher.dispose();
  }
  for (const order of [1, 2] as const) {
    const net = createBackbone(name, { numClasses: 10, seed: 0 });
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'b', backbone: name, activation: { candidates: ['relu', 'x2act'], granularity: 'layer' } }), { gate: 'darts', seed: 0 });
    const t0 = performance.now();
    await searchSupernet({ strategy: 'darts', epochs: 1, batchSize: batch, order, latencyWeight: 1 }, { net, gates, data: { train: randomData(shape, 2 * batch * steps), test, norm }, seed: 0, latency: { table: loadLatencyTable('pasnet-dac2023-code') } });
    console.log(`${name.padEnd(9)} darts order-${order} step ${((performance.now() - t0) / steps).toFixed(1)} ms`);
    net.dispose();
  }
}
