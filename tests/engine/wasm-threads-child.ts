// Child process of wasm-threads.test.ts: selects the wasm backend (its thread count comes from
// POLYNAS_WASM_THREADS), runs three ResNet-20 SGD steps on a fixed batch and prints one JSON line.
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { crossEntropy } from '../../src/train/losses.js';
import { Sgd } from '../../src/train/optim.js';

const info = await selectBackend('wasm');
const net = createBackbone('resnet20', { numClasses: 10, seed: 0 });
net.train();
const params = net.namedParameters('weight').map(([, v]) => v);
const opt = new Sgd(net.namedParameters('weight'), { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
const x = tf.randomNormal([16, 32, 32, 3], 0, 1, 'float32', 7);
const y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32');
const losses: number[] = [];
for (let s = 0; s < 3; s++) {
  losses.push(
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x), y), params);
      opt.step(grads, 0.05);
      return value.dataSync()[0]!;
    }),
  );
}
const stem = Array.from(params[0]!.dataSync().slice(0, 32));
console.log(JSON.stringify({ backend: info.backend, threads: info.threads, tried: info.tried, losses, stem }));
// No explicit exit: the test checks that the thread pool does not keep the process alive.
