export { openRunDir, runMetadata, lockRunDir, type RunDir } from './run-dir.js';
export { runTraining, loadTrainedModel, loadRecipeData, trainConfigOf, type RunTrainingOptions, type TrainingRun, type WeightsMeta } from './train.js';
export { runSearchRecipe, type RunSearchOptions, type SearchRun, type LatencySummary } from './search.js';
export { runSweep, sweepRow, sweepSummary, budgetDirName, writeSweepCsv, renderSweepPlots, type SweepRow, type SweepOptions, type SweepResult } from './sweep.js';
export { finetuneArchitecture, embeddedRecipe, type FinetuneOptions, type FinetuneRun } from './finetune.js';
export { compileRecipe, type CompiledRecipe } from './compile.js';
export { reportRun } from './report.js';
