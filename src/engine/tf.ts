/**
 * The single import point of TensorFlow.js inside polynas. Library code uses only the
 * backend-agnostic tfjs-core API re-exported by `@tensorflow/tfjs`; the backend (native
 * TensorFlow, LibTorch, WebAssembly or plain JS) is chosen once by `selectBackend`.
 */
import * as tf from '@tensorflow/tfjs';

// tfjs' JS backend prints a "you are running TensorFlow.js in Node.js" banner the first time it
// holds a tensor; a library (and its CLI, whose output is data) must not print. The engine creates
// backends from their registered factories (more than once), so the factory is wrapped: every cpu
// backend it makes counts as used already. Its kernels stay registered under the same name.
const registry = (tf.engine() as unknown as { registryFactory: Record<string, { factory: () => tf.KernelBackend; priority: number }> }).registryFactory;
const cpu = registry.cpu;
if (cpu) {
  tf.removeBackend('cpu');
  tf.registerBackend(
    'cpu',
    () => {
      const b = cpu.factory() as tf.KernelBackend & { firstUse?: boolean };
      b.firstUse = false;
      return b;
    },
    cpu.priority,
  );
}

export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
