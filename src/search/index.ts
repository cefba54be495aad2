export { resolveBudget, projectToBudget, type Projection } from './budget.js';
export { autorepSearch, keptRelus, type AutorepConfig, type AutorepResult, type SearchEpoch, type SearchHooks } from './autorep.js';
