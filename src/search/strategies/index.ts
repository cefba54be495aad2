import { registerStrategy } from '../strategy.js';
import { autorep } from './autorep.js';
import { snl } from './snl.js';
import { darts } from './darts.js';

/** The one place where the built-in search strategies are registered. */
registerStrategy(autorep);
registerStrategy(snl);
registerStrategy(darts);

export { autorep, AutorepSection, AUTOREP_DAPA_DAMPING, autorepTarget, setOffset, type AutorepSettings } from './autorep.js';
export { maskLatencyModel, expectedMaskLatency, type MaskLatency } from './mask-latency.js';
export { snl, SnlSection, type SnlSettings } from './snl.js';
export { darts, DartsSection, type DartsSettings } from './darts.js';
export { hessianVectorProduct } from './hvp.js';
export { AugmentSetting, resolveAugment } from './common.js';
