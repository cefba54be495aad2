import { createHash } from 'node:crypto';
import { tf } from '../engine/tf.js';
import type { Module, TensorState } from '../nn/module.js';
import type { ImageDataset } from '../data/dataset.js';
import { batchCount, batches, type Augmentation, type HostBatch, type Normalization } from '../data/loader.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { clipByGlobalNorm, crossEntropy, distillationLoss } from './losses.js';
import { evaluate, type EvalResult } from './metrics.js';
import { activationReport } from './monitor.js';
import { createOptimizer, type OptimizerConfig } from './optim.js';
import { learningRate, type ScheduleConfig } from './schedule.js';

/** Settings of a supervised training run. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  /** Learning-rate schedule; its warm-up is in optimizer steps. */
  schedule: ScheduleConfig;
  /** Clip the global gradient norm to this value (off when absent). */
  clipNorm?: number;
  augment?: Augmentation;
  labelSmoothing?: number;
  /** Also checkpoint every this many steps inside an epoch (0: only at epoch ends). Default 0. */
  checkpointEverySteps?: number;
  evalBatchSize?: number;
  /** Seed of shuffling and augmentation. */
  seed: number;
}

/** Knowledge distillation from a fixed teacher: loss = CE + weight·T²·KL. */
export interface Distillation {
  teacher: Module;
  temperature?: number;
  weight?: number;
}

export interface StepEvent {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm?: number;
  imagesPerSec: number;
}

export interface EpochEvent {
  epoch: number;
  epochs: number;
  trainLoss: number;
  test: EvalResult;
  lr: number;
  seconds: number;
  /** The site with the largest |activation| on the first test batch (networks with sites). */
  maxActivation?: { path: string; absMax: number };
}

/** Observers and controls of a run; the library never prints. */
export interface TrainHooks {
  onStep?(e: StepEvent): void;
  /** Called after each epoch's evaluation with the event and the whole history so far. */
  onEpoch?(e: EpochEvent, history: EpochEvent[]): void;
  /** Structured records for a JSONL log. */
  onLog?(record: Record<string, unknown>): void;
  /** When aborted, the run checkpoints after the current step and returns `completed: false`. */
  signal?: AbortSignal;
  /** Milliseconds clock. Default `performance.now`. */
  clock?: () => number;
}

export interface TrainResult {
  completed: boolean;
  history: EpochEvent[];
  /** Test metrics after the last epoch (undefined if the run stopped early). */
  final?: EvalResult;
  resumedFrom?: { epoch: number; batch: number };
  steps: number;
  trainSeconds: number;
}

interface CheckpointMeta {
  kind: 'polynas-train';
  configHash: string;
  epoch: number;
  batch: number;
  step: number;
  epochLossSum: number;
  epochSteps: number;
  history: EpochEvent[];
  trainSeconds: number;
  optimizerStep: number;
}

/** Data of a run: training and test sets and the normalisation applied to both. */
export interface TrainData {
  train: ImageDataset;
  test: ImageDataset;
  norm: Normalization;
}

/** Stable hash of the settings that must not change across a resume. */
function hashConfig(config: TrainConfig, data: TrainData): string {
  const key = JSON.stringify({ config, train: [data.train.name, data.train.labels.length], test: [data.test.name, data.test.labels.length] });
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Trains `model` on `data.train` with mini-batch SGD/Adam, evaluating on `data.test` after every
 * epoch. With `checkpointPath`, the model, optimizer state and progress are saved atomically at
 * every epoch end (and every `checkpointEverySteps`); with `resume`, a run continues from that file
 * and ends with the same weights as an uninterrupted run, because batches and augmentation depend
 * only on (seed, epoch, batch).
 *
 * @example
 * ```ts
 * const result = await fit(net, { train, test, norm }, {
 *   epochs: 2, batchSize: 64, seed: 0,
 *   optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
 *   schedule: { type: 'cosine', lr: 0.05 },
 * });
 * console.log(result.final?.top1);
 * ```
 */
export async function fit(
  model: Module,
  data: TrainData,
  config: TrainConfig,
  opts: { checkpointPath?: string; resume?: boolean; hooks?: TrainHooks; distill?: Distillation } = {},
): Promise<TrainResult> {
  checkConfig(config);
  const perEpoch = batchCount(data.train.labels.length, config.batchSize, true);
  if (perEpoch < 1) throw new Error(`batchSize ${config.batchSize} exceeds the ${data.train.labels.length} training samples`);
  const params = model.namedParameters('weight');
  const run: FitRun = {
    model, data, config, opts, hooks: opts.hooks ?? {}, clock: opts.hooks?.clock ?? (() => performance.now()),
    optimizer: createOptimizer(params, config.optimizer), vars: params.map(([, v]) => v),
    perEpoch, totalSteps: perEpoch * config.epochs, configHash: hashConfig(config, data),
  };
  const { start, resumedFrom } = restoreCheckpoint(run);
  const p: Progress = { ...start, history: [...start.history] };
  const stopped = (): TrainResult => ({ completed: false, history: p.history, ...(resumedFrom ? { resumedFrom } : {}), steps: p.step, trainSeconds: p.seconds });
  model.train();
  try {
    for (let epoch = start.epoch; epoch < config.epochs; epoch++) {
      const resumeHere = epoch === start.epoch;
      const t0 = run.clock();
      const e = await trainEpoch(run, p, epoch, resumeHere ? { batch: start.batch, lossSum: start.lossSum, steps: start.steps } : { batch: 0, lossSum: 0, steps: 0 });
      if (e.stopped) return stopped();
      const test = evaluate(model, data.test, { norm: data.norm, batchSize: config.evalBatchSize ?? EVAL_BATCH });
      const ranges = activationReport(model, data.test, data.norm);
      const ev: EpochEvent = {
        epoch, epochs: config.epochs, trainLoss: e.lossSum / Math.max(1, e.steps), test, lr: e.lr, seconds: (run.clock() - t0) / 1000,
        ...(ranges ? { maxActivation: ranges.worst } : {}),
      };
      if (ranges) run.hooks.onLog?.({ type: 'activation-ranges', epoch, ranges: ranges.ranges });
      p.history.push(ev);
      run.hooks.onEpoch?.(ev, p.history);
      run.hooks.onLog?.({ type: 'epoch', ...ev });
      saveTrainCheckpoint(run, { ...p, epoch: epoch + 1, batch: 0, lossSum: 0, steps: 0 });
      if (run.hooks.signal?.aborted && epoch + 1 < config.epochs) {
        run.hooks.onLog?.({ type: 'stopped', epoch: epoch + 1, batch: 0, step: p.step });
        return stopped();
      }
    }
  } finally {
    run.optimizer.dispose();
  }
  const final = p.history.length ? p.history[p.history.length - 1]!.test : evaluate(model, data.test, { norm: data.norm });
  return { completed: true, history: p.history, final, ...(resumedFrom ? { resumedFrom } : {}), steps: p.step, trainSeconds: p.seconds };
}

/** Library callers get the recipe's checks too: every count a positive integer, rates finite. */
function checkConfig(c: TrainConfig): void {
  const bad = (field: string, v: unknown, want: string) => new RangeError(`fit: config.${field} must be ${want}, got ${JSON.stringify(v)}`);
  for (const f of ['epochs', 'batchSize'] as const) if (!Number.isInteger(c[f]) || c[f] < 1) throw bad(f, c[f], 'a positive integer');
  if (!(c.schedule.lr > 0) || !Number.isFinite(c.schedule.lr)) throw bad('schedule.lr', c.schedule.lr, 'a positive number');
  if (c.clipNorm !== undefined && !(c.clipNorm > 0)) throw bad('clipNorm', c.clipNorm, 'a positive number');
  if (!Number.isInteger(c.seed) || c.seed < 0) throw bad('seed', c.seed, 'a non-negative integer');
}

/** Evaluation batch size of the per-epoch test pass. */
const EVAL_BATCH = 256;

/** What one `fit` call holds. */
interface FitRun {
  model: Module;
  data: TrainData;
  config: TrainConfig;
  opts: { checkpointPath?: string; resume?: boolean; distill?: Distillation };
  hooks: TrainHooks;
  clock: () => number;
  optimizer: ReturnType<typeof createOptimizer>;
  vars: tf.Variable[];
  perEpoch: number;
  totalSteps: number;
  configHash: string;
}

/** Where a run is: the position inside the epoch, the step, the history and the training time. */
interface Progress {
  epoch: number;
  batch: number;
  step: number;
  lossSum: number;
  steps: number;
  history: EpochEvent[];
  seconds: number;
}

/** The progress a run starts from: zero, or the checkpoint's when resuming (model and optimizer restored). */
function restoreCheckpoint(run: FitRun): { start: Progress; resumedFrom?: TrainResult['resumedFrom'] } {
  const zero: Progress = { epoch: 0, batch: 0, step: 0, lossSum: 0, steps: 0, history: [], seconds: 0 };
  const path = run.opts.checkpointPath;
  if (!run.opts.resume || !path) return { start: zero };
  const ckpt = loadCheckpoint<CheckpointMeta>(path);
  if (!ckpt) return { start: zero };
  const m = ckpt.meta;
  if (m.kind !== 'polynas-train') throw new Error(`${path}: not a training checkpoint`);
  if (m.configHash !== run.configHash) throw new Error(`${path}: written for other training settings (hash ${m.configHash}, now ${run.configHash}); use a new output folder`);
  const modelState: Record<string, TensorState> = {};
  const optState: Record<string, TensorState> = {};
  for (const [k, v] of Object.entries(ckpt.tensors)) {
    if (k.startsWith('model/')) modelState[k.slice(6)] = v;
    else if (k.startsWith('optim/')) optState[k.slice(6)] = v;
  }
  run.model.loadStateDict(modelState);
  run.optimizer.loadState({ step: m.optimizerStep, slots: optState });
  run.hooks.onLog?.({ type: 'resume', epoch: m.epoch, batch: m.batch, step: m.step });
  return {
    start: { epoch: m.epoch, batch: m.batch, step: m.step, lossSum: m.epochLossSum, steps: m.epochSteps, history: m.history, seconds: m.trainSeconds },
    resumedFrom: { epoch: m.epoch, batch: m.batch },
  };
}

/** Saves the model, the optimizer state and the progress (when the run has a checkpoint path). */
function saveTrainCheckpoint(run: FitRun, p: Progress): void {
  const path = run.opts.checkpointPath;
  if (!path) return;
  const tensors: Record<string, TensorState> = {};
  for (const [k, v] of Object.entries(run.model.stateDict())) tensors[`model/${k}`] = v;
  const os = run.optimizer.state();
  for (const [k, v] of Object.entries(os.slots)) tensors[`optim/${k}`] = v;
  const meta: CheckpointMeta = {
    kind: 'polynas-train', configHash: run.configHash, epoch: p.epoch, batch: p.batch, step: p.step, epochLossSum: p.lossSum, epochSteps: p.steps,
    history: p.history, trainSeconds: p.seconds, optimizerStep: os.step,
  };
  saveCheckpoint(path, { meta, tensors });
  run.hooks.onLog?.({ type: 'checkpoint', epoch: p.epoch, batch: p.batch, step: p.step });
}

/** One optimizer step on a batch; returns the loss (read back: the trainer reports it every step). */
function trainStep(run: FitRun, batch: HostBatch, lr: number): { loss: number; gradNorm?: number } {
  const { config, opts } = run;
  const [h, w, c] = run.data.train.shape;
  let gradNorm: number | undefined;
  const lossT = tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.n, h, w, c]);
    const y = tf.tensor1d(batch.y, 'int32');
    const teacherLogits = opts.distill ? teacherForward(opts.distill.teacher, x) : undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = run.model.forward(x);
      const ce = crossEntropy(logits, y, config.labelSmoothing ?? 0);
      if (!opts.distill || !teacherLogits) return ce;
      const kd = distillationLoss(logits, teacherLogits, opts.distill.temperature ?? 4);
      return tf.add(ce, tf.mul(kd, opts.distill.weight ?? 1)) as tf.Scalar;
    }, run.vars);
    let g = grads;
    if (config.clipNorm) {
      const clipped = clipByGlobalNorm(grads, config.clipNorm);
      g = clipped.grads;
      gradNorm = clipped.norm;
    }
    run.optimizer.step(g, lr);
    return value;
  });
  const loss = lossT.dataSync()[0]!;
  lossT.dispose();
  return { loss, ...(gradNorm !== undefined ? { gradNorm } : {}) };
}

/**
 * The steps of one epoch from `from.batch`; checkpoints mid-epoch every `checkpointEverySteps` and
 * when stopped (then `stopped` is true).
 */
async function trainEpoch(run: FitRun, p: Progress, epoch: number, from: { batch: number; lossSum: number; steps: number }) {
  const { config, hooks } = run;
  let { lossSum, steps, batch: b } = from;
  let lr = 0;
  const every = config.checkpointEverySteps ?? 0;
  const it = batches(run.data.train, {
    batchSize: config.batchSize, norm: run.data.norm, shuffle: true, seed: config.seed, epoch, dropLast: true,
    startBatch: from.batch, ...(config.augment ? { augment: config.augment } : {}),
  });
  for (const batch of it) {
    const ts = run.clock();
    lr = learningRate(config.schedule, p.step, run.totalSteps);
    const { loss, gradNorm } = trainStep(run, batch, lr);
    if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at epoch ${epoch}, batch ${b} (lr ${lr})`);
    lossSum += loss;
    steps++;
    p.step++;
    b++;
    const dt = run.clock() - ts;
    p.seconds += dt / 1000;
    const g = gradNorm !== undefined ? { gradNorm } : {};
    hooks.onStep?.({ epoch, batch: b, batches: run.perEpoch, step: p.step, totalSteps: run.totalSteps, loss, lr, imagesPerSec: (batch.n * 1000) / dt, ...g });
    hooks.onLog?.({ type: 'step', epoch, batch: b, step: p.step, loss, lr, ms: dt, ...g });
    // Yield to the event loop so that signals (Ctrl-C) and timers are handled between steps.
    await new Promise<void>((r) => setImmediate(r));
    const stopping = hooks.signal?.aborted ?? false;
    if (b < run.perEpoch && (stopping || (every > 0 && p.step % every === 0))) saveTrainCheckpoint(run, { ...p, epoch, batch: b, lossSum, steps });
    if (stopping && b < run.perEpoch) {
      hooks.onLog?.({ type: 'stopped', epoch, batch: b, step: p.step });
      return { stopped: true, lossSum, steps, lr };
    }
  }
  return { stopped: false, lossSum, steps, lr };
}

function teacherForward(teacher: Module, x: tf.Tensor): tf.Tensor {
  const was = teacher.training;
  teacher.eval();
  const y = teacher.forward(x);
  teacher.train(was);
  return y;
}
