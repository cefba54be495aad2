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
export {
  runTraining,
  runSearchRecipe,
  runSweep,
  finetuneArchitecture,
  compileRecipe,
  reportRun,
  loadTrainedModel,
  loadRecipeData,
  embeddedRecipe,
  budgetDirName,
  RunStoppedError,
  RunFolderInUseError,
  CheckpointExistsError,
  type RunTrainingOptions,
  type TrainingRun,
  type WeightsMeta,
  type RunSearchOptions,
  type RunSearchHooks,
  type SearchRun,
  type SweepOptions,
  type SweepResult,
  type FinetuneOptions,
  type FinetuneRun,
  type CompiledRecipe,
} from './run/index.js';

// Data types: spaces, recipes, architectures, results.
export * from './spec/index.js';
export { ValidationError, parseWith, readJsonFile, readJsonAs, type ValidationIssue } from './io/json.js';
export { EnvError } from './io/env.js';
export { POLYNAS_VERSION } from './io/version.js';

// Registries.
export * from './ops/index.js';
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
} from './search/strategy.js';
export { createBackbone, registerBackbone, backboneNames } from './backbones/registry.js';
export { Backbone, type BackboneOptions, type ReluReport, type SiteReluCount } from './backbones/backbone.js';

// Search: supernets, the shared loop, strategies, budgets, recipes.
export { buildSupernet, type SupernetOptions } from './supernet/build.js';
export { searchableRelus, keptRelus, costChoices, GATE_KINDS, type Gate, type GateKind, type PlacedGate } from './supernet/gate.js';
export { MaskGate, type MaskGateOptions } from './supernet/mask-gate.js';
export { DartsGate } from './supernet/darts-gate.js';
export { hysteresisSte, continuousL1, MASK_RULES, SNL_ALPHA_THRESHOLD, type MaskRule, type MaskRuleName } from './supernet/mask-rules.js';
export {
  runSearchLoop,
  searchSupernet,
  SearchStoppedError,
  SearchDivergedError,
  type SearchHooks,
  type SearchEpoch,
  type SearchStepEvent,
  type SearchResult,
  type SupernetSearch,
} from './search/loop.js';
export { resolveBudget, projectToBudget, projectAndFreeze, type Projection, type BudgetGate } from './search/budget.js';
export {
  autorep,
  snl,
  darts,
  AutorepSection,
  SnlSection,
  DartsSection,
  AUTOREP_DAPA_DAMPING,
  hessianVectorProduct,
  type AutorepSettings,
  type SnlSettings,
  type DartsSettings,
} from './search/strategies/index.js';
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
} from './search/recipe.js';

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
