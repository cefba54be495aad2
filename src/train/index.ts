export { Sgd, Adam, createOptimizer, type Optimizer, type OptimizerConfig, type SgdConfig, type AdamConfig, type GradMap, type NamedVariable } from './optim.js';
export { learningRate, type ScheduleConfig } from './schedule.js';
export { crossEntropy, distillationLoss, clipByGlobalNorm } from './losses.js';
export { evaluate, type EvalResult } from './metrics.js';
export { writeFileAtomic, encodeCheckpoint, decodeCheckpoint, saveCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint.js';
export { fit, type TrainConfig, type TrainHooks, type TrainResult, type TrainData, type StepEvent, type EpochEvent, type Distillation } from './trainer.js';
export {
  TrainRecipeSchema,
  parseTrainRecipe,
  loadTrainRecipe,
  trainRecipeJsonSchema,
  RecipeError,
  type TrainRecipe,
  type TrainRecipeInput,
} from './recipe.js';
export { openRunDir, runMetadata, lockRunDir, POLYNAS_VERSION, type RunDir } from './run-dir.js';
export { runTraining, loadTrainedModel, loadRecipeData, trainConfigOf, type RunTrainingOptions, type TrainingRun, type WeightsMeta } from './pipeline.js';
