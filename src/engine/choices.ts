/** Backends polynas can run on (`auto` picks the fastest available), without loading TensorFlow.js. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'torch', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
