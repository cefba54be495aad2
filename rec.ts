import { tf } from './src/engine/tf.js';
import { NATIVE_BACKENDS } from './src/engine/conv.js';
import { createBackbone, crossEntropy, Sgd, loadSearchSpace, buildMaskSupernet, autorepSearch, buildDartsSupernet, dartsSearch, subset, loadDataset, channelStats, loadLatencyTable } from './src/index.js';
await tf.setBackend('cpu');
(NATIVE_BACKENDS as Set<string>).add('cpu'); // record the stock-kernel path a native backend takes
const seen = new Map<string, number>();
const eng = tf.engine() as any;
const orig = eng.runKernel.bind(eng);
eng.runKernel = (name: string, inputs: any, attrs: any) => { seen.set(name, (seen.get(name) ?? 0) + 1); return orig(name, inputs, attrs); };
for (const [arch, shape] of [['resnet20', [32, 32, 3]], ['lenet5', [28, 28, 1]], ['mobilenetv2', [32, 32, 3]]] as const) {
  const net = createBackbone(arch, { numClasses: 10, inputShape: [...shape] as [number, number, number] });
  const opt = new Sgd(net.namedParameters('weight'), { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  net.train();
  tf.tidy(() => {
    const x = tf.randomNormal([4, ...shape]); const y = tf.tensor1d([1, 2, 3, 4], 'int32');
    const { grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y) as tf.Scalar, net.namedParameters('weight').map(([, v]) => v));
    opt.step(grads, 0.1);
  });
  net.eval(); tf.tidy(() => net.forward(tf.randomNormal([2, ...shape])));
}
const all = await loadDataset({ name: 'mnist' });
const train = subset(all.train, Int32Array.from({ length: 128 }, (_, i) => i), 't'); const test = subset(all.test, Int32Array.from({ length: 64 }, (_, i) => i), 'e');
const data = { train, test, norm: channelStats(train) };
for (const sp of ['lenet5-pixel', 'lenet5-channel']) {
  const net = createBackbone('lenet5', { numClasses: 10 });
  const space = sp === 'lenet5-pixel' ? loadSearchSpace(sp) : { ...loadSearchSpace('lenet5-pixel'), activation: { ...loadSearchSpace('lenet5-pixel').activation!, granularity: 'channel' as const, candidates: ['relu', 'x2act'] as any } };
  const { gates } = buildMaskSupernet(net, space, { seed: 0 });
  await autorepSearch(net, gates, data, { epochs: 1, batchSize: 64, budget: 300, seed: 0 }, { teacher: createBackbone('lenet5', { numClasses: 10 }) });
}
const sn = createBackbone('lenet5', { numClasses: 10 });
const { gates: sg } = buildMaskSupernet(sn, { ...loadSearchSpace('lenet5-pixel'), activation: { ...loadSearchSpace('lenet5-pixel').activation!, candidates: ['relu', 'identity'] as any } }, { seed: 0, mode: 'continuous' });
const { snlSearch } = await import('./src/search/snl.js');
await snlSearch(sn, sg, data, { epochs: 1, batchSize: 64, budget: 300, seed: 0 }, { teacher: createBackbone('lenet5', { numClasses: 10 }) });
for (const order of [1, 2] as const) {
  const net = createBackbone('lenet5', { numClasses: 10 });
  const { gates } = buildDartsSupernet(net, loadSearchSpace('lenet5-layer-pool'), loadLatencyTable('pasnet-dac2023-code'));
  await dartsSearch(net, gates, data, { epochs: 1, batchSize: 32, order, seed: 0, latencyWeight: 1 });
}
console.log(JSON.stringify([...seen.keys()].sort()));
console.log(seen.size);
