export { resolveBudget, budgetBasis, networkBudget, projectToBudget, projectAndFreeze, type BudgetBasis, type Projection, type BudgetGate } from './budget.js';
export {
  registerStrategy,
  unregisterStrategy,
  getStrategy,
  strategyNames,
  strategies,
  type SearchStrategy,
  type SearchContext,
  type SectionBase,
  type StepInfo,
  type StepInput,
  type StepReport,
  type EpochDetails,
  type NormalizeEnv,
} from './strategy.js';
export { runSearchLoop, searchSupernet, SearchStoppedError, SearchDivergedError, type SearchHooks, type SearchEpoch, type SearchStepEvent, type SearchResult, type SupernetSearch } from './loop.js';
export {
  autorep,
  snl,
  darts,
  AutorepSection,
  SnlSection,
  DartsSection,
  AUTOREP_DAPA_DAMPING,
  hessianVectorProduct,
  resolveAugment,
  type AutorepSettings,
  type SnlSettings,
  type DartsSettings,
} from './strategies/index.js';
export {
  searchRecipeSchema,
  parseSearchRecipe,
  loadSearchRecipe,
  normalizeSearchRecipe,
  searchRecipeJsonSchema,
  DEFAULT_LATENCY_TABLE,
  OverridesSchema,
  type SearchRecipe,
  type Overrides,
} from './recipe.js';
