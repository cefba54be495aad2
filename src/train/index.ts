export { Sgd, Adam, createOptimizer, type Optimizer, type OptimizerConfig, type SgdConfig, type AdamConfig, type GradMap, type NamedVariable } from './optim.js';
export { learningRate, type ScheduleConfig } from './schedule.js';
export { crossEntropy, distillationLoss, clipByGlobalNorm } from './losses.js';
export { evaluate, type EvalResult } from './metrics.js';
export { fit, type TrainConfig, type TrainHooks, type TrainResult, type TrainData, type StepEvent, type EpochEvent, type Distillation } from './trainer.js';
