export { GATE_KINDS, searchableRelus, keptRelus, costChoices, type Gate, type GateKind, type PlacedGate } from './gate.js';
export { MaskGate, type MaskGateOptions } from './mask-gate.js';
export { hysteresisSte, continuousL1, MASK_RULES, SNL_ALPHA_THRESHOLD, type MaskRule, type MaskRuleName } from './mask-rules.js';
export { DartsGate } from './darts-gate.js';
export { buildSupernet, type SupernetOptions } from './build.js';
