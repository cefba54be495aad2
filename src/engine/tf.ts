/**
 * The single import point of TensorFlow.js inside polynas. Library code uses only the
 * backend-agnostic tfjs-core API re-exported by `@tensorflow/tfjs`; the backend (native
 * TensorFlow, WebAssembly or plain JS) is chosen once by {@link selectBackend}.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
