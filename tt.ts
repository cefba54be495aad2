import { tf } from './src/engine/tf.js';
import { registerTorchBackend } from './src/engine/torch.js';
registerTorchBackend();
await tf.setBackend('cpu');
const r = (s: number[], seed: number) => tf.randomNormal(s, 0, 1, 'float32', seed);
const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ['add bcast', () => tf.add(r([2, 3, 4], 1), r([4], 2))],
  ['conv same s1', () => tf.conv2d(r([2, 8, 8, 3], 3) as tf.Tensor4D, r([3, 3, 3, 5], 4) as tf.Tensor4D, 1, 'same')],
  ['conv same s2 even', () => tf.conv2d(r([2, 8, 8, 3], 3) as tf.Tensor4D, r([3, 3, 3, 5], 4) as tf.Tensor4D, 2, 'same')],
  ['conv grads s2', () => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same').square().sum())([r([2, 8, 8, 3], 5), r([3, 3, 3, 5], 6)])],
  ['conv grads 1x1 s2', () => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid').square().sum())([r([2, 9, 9, 4], 5), r([1, 1, 4, 6], 6)])],
  ['dw grads', () => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same').square().sum())([r([2, 8, 8, 4], 5), r([3, 3, 4, 2], 6)])],
  ['maxpool grad', () => tf.grads((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same').square().sum())([r([2, 8, 8, 3], 7)])],
  ['avgpool grad', () => tf.grads((x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same').square().sum())([r([2, 8, 8, 3], 7)])],
  ['matmul', () => tf.matMul(r([5, 7], 1), r([6, 7], 2), false, true)],
  ['softmax ce', () => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([1, 2, 0], 'int32'), 4), r([3, 4], 9))],
  ['moments', () => { const m = tf.moments(r([4, 5, 5, 3], 1), [0, 1, 2]); return [m.mean, m.variance]; }],
  ['sum int', () => tf.sum(tf.tensor1d([1, 2, 3], 'int32'))],
  ['argmax/topk', () => [tf.argMax(r([4, 10], 3), 1), ...Object.values(tf.topk(r([4, 10], 3), 5))]],
  ['slice/pad/concat', () => tf.concat([tf.slice(r([4, 6], 1), [1, 2], [2, -1]), tf.pad(r([2, 2], 2), [[0, 0], [1, 1]], 3)], 0)],
  ['where/step', () => [tf.where(tf.greater(r([10], 1), 0), r([10], 2), r([10], 3)), tf.step(r([10], 4), 0.2)]],
];
for (const [name, f] of cases) {
  await tf.setBackend('cpu');
  const a = tf.tidy(() => [f()].flat().map((t) => t.arraySync()));
  await tf.setBackend('torch');
  let b;
  try { b = tf.tidy(() => [f()].flat().map((t) => t.arraySync())); } catch (e) { console.log(name, 'ERROR', (e as Error).message); continue; }
  const fa = (a as unknown[]).flat(10) as number[]; const fb = (b as unknown[]).flat(10) as number[];
  let maxErr = 0; for (let i = 0; i < fa.length; i++) maxErr = Math.max(maxErr, Math.abs(fa[i]! - fb[i]!) / Math.max(1, Math.abs(fa[i]!)));
  console.log(name.padEnd(20), fa.length === fb.length ? maxErr.toExponential(2) : `LENGTH ${fa.length} vs ${fb.length}`);
}
