export { MaskGate, type MaskGateOptions } from './mask-gate.js';
export { buildMaskSupernet, buildActivationOp, type PlacedGate } from './build.js';
export { DartsGate } from './darts-gate.js';
