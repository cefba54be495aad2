import { createHash } from 'node:crypto';
import { tf } from '../engine/tf.js';
import type { Module, TensorState } from '../nn/module.js';
import type { ImageDataset } from '../data/dataset.js';
import { batchCount, batches, type Augmentation, type Normalization } from '../data/loader.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { clipByGlobalNorm, crossEntropy, distillationLoss } from './losses.js';
import { evaluate, type EvalResult } from './metrics.js';
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
  const hooks = opts.hooks ?? {};
  const clock = hooks.clock ?? (() => performance.now());
  const { train, test, norm } = data;
  const [h, w, c] = train.shape;
  const perEpoch = batchCount(train.labels.length, config.batchSize, true);
  if (perEpoch < 1) throw new Error(`batchSize ${config.batchSize} exceeds the ${train.labels.length} training samples`);
  const totalSteps = perEpoch * config.epochs;
  const params = model.namedParameters('weight');
  const vars = params.map(([, v]) => v);
  const optimizer = createOptimizer(params, config.optimizer);
  const configHash = hashConfig(config, data);

  let start = { epoch: 0, batch: 0, step: 0, lossSum: 0, steps: 0, history: [] as EpochEvent[], seconds: 0 };
  let resumedFrom: TrainResult['resumedFrom'];
  if (opts.resume && opts.checkpointPath) {
    const ckpt = loadCheckpoint<CheckpointMeta>(opts.checkpointPath);
    if (ckpt) {
      const m = ckpt.meta;
      if (m.kind !== 'polynas-train') throw new Error(`${opts.checkpointPath}: not a training checkpoint`);
      if (m.configHash !== configHash) {
        throw new Error(`${opts.checkpointPath}: written for other training settings (hash ${m.configHash}, now ${configHash}); use a new output folder`);
      }
      const modelState: Record<string, TensorState> = {};
      const optState: Record<string, TensorState> = {};
      for (const [k, v] of Object.entries(ckpt.tensors)) {
        if (k.startsWith('model/')) modelState[k.slice(6)] = v;
        else if (k.startsWith('optim/')) optState[k.slice(6)] = v;
      }
      model.loadStateDict(modelState);
      optimizer.loadState({ step: m.optimizerStep, slots: optState });
      start = { epoch: m.epoch, batch: m.batch, step: m.step, lossSum: m.epochLossSum, steps: m.epochSteps, history: m.history, seconds: m.trainSeconds };
      resumedFrom = { epoch: m.epoch, batch: m.batch };
      hooks.onLog?.({ type: 'resume', epoch: m.epoch, batch: m.batch, step: m.step });
    }
  }

  const save = (epoch: number, batch: number, step: number, lossSum: number, steps: number, history: EpochEvent[], seconds: number) => {
    if (!opts.checkpointPath) return;
    const tensors: Record<string, TensorState> = {};
    for (const [k, v] of Object.entries(model.stateDict())) tensors[`model/${k}`] = v;
    const os = optimizer.state();
    for (const [k, v] of Object.entries(os.slots)) tensors[`optim/${k}`] = v;
    const meta: CheckpointMeta = {
      kind: 'polynas-train', configHash, epoch, batch, step, epochLossSum: lossSum, epochSteps: steps,
      history, trainSeconds: seconds, optimizerStep: os.step,
    };
    saveCheckpoint(opts.checkpointPath, { meta, tensors });
    hooks.onLog?.({ type: 'checkpoint', epoch, batch, step });
  };

  const history = [...start.history];
  let step = start.step;
  let trainSeconds = start.seconds;
  const every = config.checkpointEverySteps ?? 0;
  model.train();
  try {
    for (let epoch = start.epoch; epoch < config.epochs; epoch++) {
      const resumeHere = epoch === start.epoch;
      let lossSum = resumeHere ? start.lossSum : 0;
      let steps = resumeHere ? start.steps : 0;
      const t0 = clock();
      let lr = 0;
      const it = batches(train, {
        batchSize: config.batchSize, norm, shuffle: true, seed: config.seed, epoch, dropLast: true,
        startBatch: resumeHere ? start.batch : 0, ...(config.augment ? { augment: config.augment } : {}),
      });
      let b = resumeHere ? start.batch : 0;
      for (const batch of it) {
        const ts = clock();
        lr = learningRate(config.schedule, step, totalSteps);
        let gradNorm: number | undefined;
        const lossT = tf.tidy(() => {
          const x = tf.tensor4d(batch.x, [batch.n, h, w, c]);
          const y = tf.tensor1d(batch.y, 'int32');
          const teacherLogits = opts.distill ? teacherForward(opts.distill.teacher, x) : undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = model.forward(x);
            const ce = crossEntropy(logits, y, config.labelSmoothing ?? 0);
            if (!opts.distill || !teacherLogits) return ce;
            const kd = distillationLoss(logits, teacherLogits, opts.distill.temperature ?? 4);
            return tf.add(ce, tf.mul(kd, opts.distill.weight ?? 1)) as tf.Scalar;
          }, vars);
          let g = grads;
          if (config.clipNorm) {
            const clipped = clipByGlobalNorm(grads, config.clipNorm);
            g = clipped.grads;
            gradNorm = clipped.norm;
          }
          optimizer.step(g, lr);
          return value;
        });
        const loss = lossT.dataSync()[0]!;
        lossT.dispose();
        if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at epoch ${epoch}, batch ${b} (lr ${lr})`);
        lossSum += loss;
        steps++;
        step++;
        b++;
        const dt = clock() - ts;
        trainSeconds += dt / 1000;
        hooks.onStep?.({ epoch, batch: b, batches: perEpoch, step, totalSteps, loss, lr, imagesPerSec: (batch.n * 1000) / dt, ...(gradNorm !== undefined ? { gradNorm } : {}) });
        hooks.onLog?.({ type: 'step', epoch, batch: b, step, loss, lr, ms: dt, ...(gradNorm !== undefined ? { gradNorm } : {}) });
        // Yield to the event loop so that signals (Ctrl-C) and timers are handled between steps.
        await new Promise<void>((r) => setImmediate(r));
        const stopping = hooks.signal?.aborted ?? false;
        if (b < perEpoch && (stopping || (every > 0 && step % every === 0))) save(epoch, b, step, lossSum, steps, history, trainSeconds);
        if (stopping && b < perEpoch) {
          hooks.onLog?.({ type: 'stopped', epoch, batch: b, step });
          return { completed: false, history, ...(resumedFrom ? { resumedFrom } : {}), steps: step, trainSeconds };
        }
      }
      const testResult = evaluate(model, test, { norm, batchSize: config.evalBatchSize ?? 256 });
      const ev: EpochEvent = { epoch, epochs: config.epochs, trainLoss: lossSum / Math.max(1, steps), test: testResult, lr, seconds: (clock() - t0) / 1000 };
      history.push(ev);
      hooks.onEpoch?.(ev, history);
      hooks.onLog?.({ type: 'epoch', ...ev });
      save(epoch + 1, 0, step, 0, 0, history, trainSeconds);
      if (hooks.signal?.aborted && epoch + 1 < config.epochs) {
        hooks.onLog?.({ type: 'stopped', epoch: epoch + 1, batch: 0, step });
        return { completed: false, history, ...(resumedFrom ? { resumedFrom } : {}), steps: step, trainSeconds };
      }
    }
  } finally {
    optimizer.dispose();
  }
  const final = history.length ? history[history.length - 1]!.test : evaluate(model, test, { norm });
  return { completed: true, history, final, ...(resumedFrom ? { resumedFrom } : {}), steps: step, trainSeconds };
}

function teacherForward(teacher: Module, x: tf.Tensor): tf.Tensor {
  const was = teacher.training;
  teacher.eval();
  const y = teacher.forward(x);
  teacher.train(was);
  return y;
}
