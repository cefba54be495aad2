/**
 * polynas: polynomial neural architecture search for two-party-computation private inference.
 *
 * @packageDocumentation
 */
export * from './engine/index.js';
export * from './nn/index.js';
export * from './backbones/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './latency/index.js';
export * from './io/index.js';
export * from './spec/index.js';
export * from './export/index.js';
export * from './ops/index.js';
export * from './supernet/index.js';
export * from './search/index.js';
export * from './report/index.js';
export * from './run/index.js';
