import { createBackbone, selectBackend, tf, createOptimizer, crossEntropy } from './src/index.js';
await selectBackend('torch');
const net = createBackbone('resnet20', { numClasses: 10, seed: 0 });
const x = tf.randomNormal([64, 32, 32, 3]); const y = tf.randomUniformInt([64], 0, 10, 2);
const params = net.namedParameters('weight'); const vars = params.map(([, v]) => v);
const opt = createOptimizer(params, { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
const step = () => { const l = tf.tidy(() => { const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y), vars); opt.step(grads, 0.01); return value; }); l.dataSync(); l.dispose(); };
step(); step();
const p = await tf.profile(() => { step(); });
const by = new Map<string, [number, number]>();
for (const k of p.kernels) { const e = by.get(k.name) ?? [0, 0]; e[0] += k.kernelTimeMs as number; e[1]++; by.set(k.name, e); }
const rows = [...by.entries()].sort((a, b) => b[1][0] - a[1][0]);
let tot = 0; for (const [, [t]] of rows) tot += t;
console.log('total kernel ms', tot.toFixed(1), 'kernels', p.kernels.length);
for (const [n, [t, c]] of rows.slice(0, 18)) console.log(n.padEnd(28), t.toFixed(1).padStart(8), String(c).padStart(5));
const t0 = performance.now(); step(); console.log('step ms', (performance.now() - t0).toFixed(1));
