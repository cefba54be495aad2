import { selectBackend } from '../src/engine/backend.js';

// Tests run on the WebAssembly backend, the engine of a machine without tfjs-node. A test that
// needs another backend switches explicitly.
await selectBackend('wasm');
