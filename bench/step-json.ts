/**
 * One polynas measurement for `npm run bench:compare`, printed as one JSON line
 * `{ engine, net, batch, kind, ms: [...] }`: the per-step wall times of `--steps` steps after
 * `--warmup`, on `--backend`.
 *
 * - `train`: forward, cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4) update.
 * - `autorep`: an AutoReP search step (pixel masks ReLU vs quadratic, teacher forward, CE + KD +
 *   budget hinge, Adam on weights and α).
 *
 * `--backend` is a backend choice, or `wasm-stock`: the wasm backend as tfjs 4.22 ships it (one
 * thread, the backend's own convolution gradients; see `stock-wasm.ts`). The wasm thread count comes
 * from `POLYNAS_WASM_THREADS`.
 *
 *   npx tsx bench/step-json.ts --backend torch --net resnet20 --batch 64 --kind train
 */
import { parseArgs } from 'node:util';
import {
  buildSupernet, createBackbone, createOptimizer, crossEntropy, parseSearchSpace, searchSupernet, selectBackend,
  type BackendChoice, type ImageDataset,
} from '../src/index.js';
import { tf } from '../src/engine/index.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' }, net: { type: 'string', default: 'resnet20' }, batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' }, kind: { type: 'string', default: 'train' },
    profile: { type: 'boolean' },
  },
});
// --profile (torch): every native call timed; each step reports its native time and call count.
if (values.profile) process.env.POLYNAS_TORCH_PROFILE = '1';
const { takeTorchProfile } = await import('../src/engine/torch.js');
const native: { ms: number; calls: number; byOp: Record<string, { calls: number; ms: number }> }[] = [];
const record = (measured: boolean) => {
  const p = takeTorchProfile();
  if (measured && values.profile) native.push({ ms: p.nativeMs, calls: p.calls, byOp: p.byOp });
};
const stock = values.backend === 'wasm-stock';
if (stock) process.env.POLYNAS_WASM_THREADS = '1';
const info = await selectBackend(stock ? 'wasm' : (values.backend as BackendChoice));
if (stock) (await import('./stock-wasm.js')).useStockWasm();
const batch = Number(values.batch);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const ms: number[] = [];

if (values.kind === 'train') {
  const net = createBackbone(values.net!, { numClasses: 10, seed: 0 });
  const [h, w, c] = net.inputShape;
  const x = tf.randomNormal([batch, h, w, c], 0, 1, 'float32', 1);
  const y = tf.randomUniformInt([batch], 0, 10, 2);
  const params = net.namedParameters('weight');
  const vars = params.map(([, v]) => v);
  const opt = createOptimizer(params, { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y), vars);
      opt.step(grads, 0.01);
      return value;
    });
    loss.dataSync();
    loss.dispose();
    if (i >= warmup) ms.push(performance.now() - t0);
    record(i >= warmup);
  }
} else if (values.kind === 'autorep') {
  const net = createBackbone(values.net!, { numClasses: 10, seed: 0 });
  const teacher = createBackbone(values.net!, { numClasses: 10, seed: 1 }).eval();
  const shape = net.inputShape;
  const size = shape[0] * shape[1] * shape[2];
  const n = batch * (warmup + steps);
  let s = 1;
  const data: ImageDataset = { name: 'random', images: Uint8Array.from({ length: n * size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24)), labels: Int32Array.from({ length: n }, (_, i) => i % 10), shape, numClasses: 10 };
  const norm = { mean: new Array(shape[2]).fill(0.5), std: new Array(shape[2]).fill(0.25) };
  const gates = await buildSupernet(net, parseSearchSpace({ name: 'b', backbone: values.net!, activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
  let t0 = performance.now();
  const test = { ...data, labels: data.labels.slice(0, batch), images: data.images.slice(0, batch * size) };
  await searchSupernet({ strategy: 'autorep', epochs: 1, batchSize: batch, budget: 1000, dapaEvery: 0 }, { net, gates, data: { train: data, test, norm }, teacher, seed: 0 }, {
    onStep: ({ step }) => {
      const t = performance.now();
      if (step > warmup) ms.push(t - t0);
      record(step > warmup);
      t0 = t;
    },
  });
} else throw new Error(`--kind: 'train' or 'autorep', got '${values.kind}'`);

console.log(JSON.stringify({ engine: `polynas ${info.backend}`, threads: info.threads, net: values.net, batch, kind: values.kind, ms, ...(values.profile ? { native } : {}) }));
