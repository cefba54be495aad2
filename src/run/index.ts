export { openRunDir, runMetadata, lockRunDir, RunStoppedError, RunFolderInUseError, type RunDir } from './run-dir.js';
export { runTraining, CheckpointExistsError, loadTrainedModel, loadRecipeData, trainConfigOf, trainRecipeOf, type RunTrainingOptions, type TrainingRun, type WeightsMeta } from './train.js';
export { teacherPhase, cloneTeacher, type Teacher, type TeacherOptions } from './teacher.js';
export { runSearchRecipe, type RunSearchOptions, type RunSearchHooks, type SearchRun } from './search.js';
export { runSweep, readSweepRow, budgetDirName, writeSweepCsv, renderSweepPlots, type SweepOptions, type SweepResult } from './sweep.js';
export { finetuneArchitecture, embeddedRecipe, type FinetuneOptions, type FinetuneRun } from './finetune.js';
export { compileRecipe, type CompiledRecipe } from './compile.js';
export { reportRun } from './report.js';
export { privateInference, type PrivateInferenceOptions, type PiRunReport, type PiLayerRow } from './pi.js';
