/**
 * polynas: polynomial neural architecture search for two-party-computation private inference.
 *
 * The root export holds what a training script, a recipe runner or a plotting script needs: the run
 * functions, the data types (spec), the registries (operators, strategies, backbones), the search
 * and export API, the latency model, datasets and training. The engine (`polynas/engine`) and the
 * module system with the operator modules (`polynas/nn`) are subpath exports for advanced use.
 *
 * @packageDocumentation
 */

// Runs: the end-to-end pipelines and their run folders.
export * from './run/index.js';

// Data types: spaces, recipes, architectures, results.
export * from './spec/index.js';
export { ValidationError, parseWith, readJsonFile, readJsonAs, type ValidationIssue } from './io/json.js';
export { EnvError } from './io/env.js';
export { POLYNAS_VERSION } from './io/version.js';

// Registries, search and supernets.
export * from './ops/index.js';
export * from './search/index.js';
export * from './supernet/index.js';
export { createBackbone, registerBackbone, backboneNames } from './backbones/registry.js';
export { Backbone, type BackboneOptions, type ReluReport, type SiteReluCount } from './backbones/backbone.js';

// Export of discretized networks.
export * from './export/index.js';

// The latency model.
export * from './latency/index.js';

// Datasets and training.
export * from './data/index.js';
export * from './train/index.js';
export { selectBackend, currentBackend, BACKEND_CHOICES, BackendUnavailableError, type BackendChoice, type BackendInfo } from './engine/backend.js';

// Reports and plots.
export * from './report/index.js';

// The 2PC runtime: lowering, sessions, the fixed-point reference.
export * from './pi/index.js';
