export { resolveBudget, projectToBudget, type Projection } from './budget.js';
export { autorepSearch, keptRelus, AUTOREP_DAPA_DAMPING, type AutorepConfig, type AutorepResult, type SearchEpoch, type SearchHooks } from './autorep.js';
export { SearchRecipeSchema, parseSearchRecipe, loadSearchRecipe, type SearchRecipe } from './recipe.js';
export { buildDartsSupernet, dartsSearch, hessianVectorProduct, type DartsConfig, type DartsResult, type DartsEpoch, type PlacedDartsGate } from './darts.js';
export { snlSearch, type SnlConfig, type SnlResult } from './snl.js';
