import { backboneNames, createBackbone } from '../backbones/registry.js';
import type { Backbone } from '../backbones/backbone.js';
import { selectBackend, type BackendChoice } from '../engine/backend.js';
import { checkDataset, datasetFingerprint, loadDataset } from '../data/datasets.js';
import { claimRunDir, runIdentity, type RunIdentity } from './identity.js';
import { subset, type DatasetSplits } from '../data/dataset.js';
import { channelStats, seededPermutation, type Normalization } from '../data/loader.js';
import type { DownloadOptions } from '../data/download.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { join } from 'node:path';
import type { TrainRecipe } from '../spec/recipe.js';
import { checkResumeBackend, hasCheckpoint, lockRunDir, openRunDir, runMetadata } from './run-dir.js';
import { fit, type TrainHooks, type TrainResult, type TrainConfig } from '../train/trainer.js';
import { summarizeTrainRun } from '../report/summary.js';
import type { TrainResultFile } from '../spec/result.js';

/** Raised when a run would start afresh in a folder holding an earlier run's checkpoint (resume it, or use another folder). */
export class CheckpointExistsError extends Error {
  constructor(readonly outDir: string) {
    super(`${outDir} already holds a checkpoint`);
    this.name = 'CheckpointExistsError';
  }
}

/** Options of {@link runTraining}. */
export interface RunTrainingOptions {
  /** Run folder: recipe, metadata, log, metrics, checkpoint, weights, summary. */
  outDir: string;
  /** Continue from the folder's checkpoint. Without it, a folder with a checkpoint is an error. */
  resume?: boolean;
  /** Overrides the recipe's backend. */
  backend?: BackendChoice;
  hooks?: TrainHooks;
  download?: DownloadOptions;
  /** A folder holding results of other settings is refused; with `fresh` its earlier results are removed. */
  fresh?: boolean;
  /** Things worth knowing that are not errors. */
  notice?: (text: string) => void;
  /** Where the recipe came from (its file), named in errors; default its name. */
  source?: string;
}

/** What a training run folder holds as results of its settings. */
const TRAIN_PHASE_FILES = ['checkpoint.bin', 'model.weights.bin', 'result.json', 'metrics.csv', 'summary.md', 'meta.json', 'recipe.json'];

/** The identity of a training run: the recipe without names and paths, the data's fingerprint and the backend. */
export function trainIdentity(recipe: TrainRecipe, backend: string): RunIdentity {
  const { name: _n, description: _d, $schema: _s, dataset, ...rest } = recipe;
  const { dir: _dir, download: _dl, ...data } = dataset;
  return runIdentity({ recipe: { ...rest, dataset: data }, data: datasetFingerprint(dataset), backend });
}

/** Metadata stored with exported weights, enough to rebuild the network. */
export interface WeightsMeta {
  kind: 'polynas-weights';
  backbone: string;
  numClasses: number;
  inputShape: [number, number, number];
  normalization: Normalization;
  seed: number;
}

const isWeightsMeta = (m: { kind: string }): m is WeightsMeta => m.kind === 'polynas-weights';

/** What {@link runTraining} returns. */
export interface TrainingRun extends TrainResult {
  outDir: string;
  backend: string;
  model: Backbone;
  normalization: Normalization;
}

/**
 * Loads the recipe's dataset and applies `trainLimit`.
 *
 * @example
 * ```ts
 * const { train, test } = await loadRecipeData(loadTrainRecipe('experiments/quickstart-lenet-mnist.json'));
 * ```
 */
export async function loadRecipeData(recipe: Pick<TrainRecipe, 'seed' | 'dataset'>, download?: DownloadOptions): Promise<DatasetSplits> {
  const ds = recipe.dataset;
  const splits = await loadDataset(
    { name: ds.name, ...(ds.dir ? { dir: ds.dir } : {}), ...(ds.download !== undefined ? { download: ds.download } : {}) },
    download,
  );
  if (ds.trainLimit && ds.trainLimit < splits.train.labels.length) {
    const idx = seededPermutation(splits.train.labels.length, recipe.seed, 'train-limit').slice(0, ds.trainLimit).sort();
    splits.train = subset(splits.train, idx, `${splits.train.name}[:${ds.trainLimit}]`);
  }
  return splits;
}

/** A metrics table as text cells, header first. */
export function metricsTable(rows: readonly Record<string, string | number>[]): string[][] {
  return rows.length ? [Object.keys(rows[0]!), ...rows.map((r) => Object.values(r).map(String))] : [];
}

/**
 * The training recipe of one phase of a search recipe (teacher, finetune): its header with that
 * phase's training section.
 */
export function trainRecipeOf(recipe: Omit<TrainRecipe, 'train'>, train: TrainRecipe['train'], name = recipe.name): TrainRecipe {
  return { name, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train };
}

/** The trainer settings a recipe describes (warm-up epochs become steps). */
export function trainConfigOf(recipe: TrainRecipe, trainSize: number): TrainConfig {
  const t = recipe.train;
  const perEpoch = Math.floor(trainSize / t.batchSize);
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    optimizer: t.optimizer,
    schedule: {
      type: t.schedule.type,
      lr: t.schedule.lr,
      ...(t.schedule.minLr !== undefined ? { minLr: t.schedule.minLr } : {}),
      warmupSteps: Math.round((t.schedule.warmupEpochs ?? 0) * perEpoch),
    },
    ...(t.clipNorm !== undefined ? { clipNorm: t.clipNorm } : {}),
    ...(t.augment ? { augment: t.augment } : {}),
    ...(t.labelSmoothing !== undefined ? { labelSmoothing: t.labelSmoothing } : {}),
    ...(t.checkpointEverySteps !== undefined ? { checkpointEverySteps: t.checkpointEverySteps } : {}),
    seed: recipe.seed,
  };
}

/**
 * Trains the network a recipe describes, end to end:
 *
 * ```
 * recipe ─> backend ─> dataset (+ normalisation) ─> backbone ─> fit (checkpoints, log) ─> weights + summary
 * ```
 *
 * @example
 * ```ts
 * const run = await runTraining(loadTrainRecipe('experiments/quickstart-lenet-mnist.json'), { outDir: 'runs/q' });
 * console.log(run.final?.top1);
 * ```
 */
export async function runTraining(recipe: TrainRecipe, opts: RunTrainingOptions): Promise<TrainingRun> {
  if (hasCheckpoint(opts.outDir) && !opts.resume && !opts.fresh) {
    throw new CheckpointExistsError(opts.outDir);
  }
  const release = lockRunDir(opts.outDir);
  try {
    return await trainInRunDir(recipe, opts);
  } finally {
    release();
  }
}

async function trainInRunDir(recipe: TrainRecipe, opts: RunTrainingOptions): Promise<TrainingRun> {
  // What can be checked without data or training, first: the backbone and the dataset's files.
  if (!backboneNames().includes(recipe.backbone.name)) throw new Error(`${opts.source ?? recipe.name}: backbone.name: unknown backbone '${recipe.backbone.name}'; known: ${backboneNames().join(', ')}`);
  checkDataset(recipe.dataset);
  const backend = await selectBackend(opts.backend ?? recipe.backend);
  if (opts.resume) checkResumeBackend(opts.outDir, backend.backend);
  claimRunDir(opts.outDir, trainIdentity(recipe, backend.backend), { ...(opts.fresh ? { fresh: true } : {}), phaseFiles: TRAIN_PHASE_FILES, ...(opts.notice ? { notice: opts.notice } : {}) });
  const run = openRunDir(opts.outDir);
  const data = await loadRecipeData(recipe, opts.download);
  const norm = recipe.dataset.normalization ?? channelStats(data.train);
  if (norm.mean.length !== data.train.shape[2]) {
    throw new Error(`dataset.normalization has ${norm.mean.length} channels but '${data.train.name}' has ${data.train.shape[2]}`);
  }
  const seed = recipe.backbone.seed ?? recipe.seed;
  const model = createBackbone(recipe.backbone.name, { numClasses: data.train.numClasses, inputShape: data.train.shape, seed });
  const config = trainConfigOf(recipe, data.train.labels.length);
  run.writeJson('recipe.json', recipe);
  run.writeJson('meta.json', runMetadata(backend, recipe.seed, {
    recipe: recipe.name, backbone: recipe.backbone.name, parameters: model.parameterCount(),
    relus: model.reluCount().total, train: data.train.name, trainSize: data.train.labels.length,
    test: data.test.name, testSize: data.test.labels.length, normalization: norm,
  }));
  run.log({ type: 'start', recipe: recipe.name, backend: backend.backend, resume: !!opts.resume });
  const userHooks = opts.hooks ?? {};
  const hooks: TrainHooks = {
    ...userHooks,
    onLog: (r) => {
      run.log(r);
      userHooks.onLog?.(r);
    },
    onEpoch: (e, history) => {
      userHooks.onEpoch?.(e, history);
      run.writeCsv('metrics.csv', history.map(metricRow));
    },
  };
  const out = await fit(model, { ...data, norm }, config, { checkpointPath: run.path('checkpoint.bin'), resume: !!opts.resume, hooks });
  run.writeCsv('metrics.csv', out.history.map(metricRow));
  if (out.completed) {
    const meta: WeightsMeta = {
      kind: 'polynas-weights', backbone: recipe.backbone.name, numClasses: data.train.numClasses,
      inputShape: data.train.shape, normalization: norm, seed,
    };
    saveCheckpoint(run.path('model.weights.bin'), { meta, tensors: model.stateDict() });
    const result: TrainResultFile = { final: out.final!, epochs: out.history.length, steps: out.steps, trainSeconds: out.trainSeconds, backend: backend.backend };
    run.writeJson('result.json', result);
    run.writeText('summary.md', summarizeTrainRun({
      name: recipe.name, backbone: recipe.backbone.name, dataset: recipe.dataset.name, parameters: model.parameterCount(), relus: model.reluCount().total,
      result, metrics: metricsTable(out.history.map(metricRow)),
    }));
  }
  run.log({ type: out.completed ? 'end' : 'paused', final: out.final, steps: out.steps });
  return { ...out, outDir: opts.outDir, backend: backend.backend, model, normalization: norm };
}

export function metricRow(e: { epoch: number; trainLoss: number; test: { top1: number; top5: number; loss: number }; lr: number; seconds: number }) {
  return {
    epoch: e.epoch + 1, train_loss: e.trainLoss.toFixed(5), test_top1: e.test.top1.toFixed(5), test_top5: e.test.top5.toFixed(5),
    test_loss: e.test.loss.toFixed(5), lr: e.lr.toPrecision(6), seconds: e.seconds.toFixed(2),
  };
}

/**
 * Rebuilds a trained network from a `model.weights.bin` file (or a run folder holding one).
 *
 * @example
 * ```ts
 * const { model, meta } = loadTrainedModel('runs/quickstart');
 * ```
 */
export function loadTrainedModel(pathOrDir: string): { model: Backbone; meta: WeightsMeta } {
  const file = pathOrDir.endsWith('.bin') ? pathOrDir : join(pathOrDir, 'model.weights.bin');
  const ckpt = loadCheckpoint<WeightsMeta | { kind: string }>(file);
  if (!ckpt) throw new Error(`${file}: no such weights file`);
  if (ckpt.meta.kind === 'polynas-architecture-weights') throw new Error(`${file}: the weights of an exported architecture: evaluate ${file.replace(/\.weights\.bin$/, '.json')} instead`);
  if (!isWeightsMeta(ckpt.meta)) throw new Error(`${file}: not the weights of a polynas training run (kind '${String(ckpt.meta.kind)}')`);
  const m = ckpt.meta;
  const model = createBackbone(m.backbone, { numClasses: m.numClasses, inputShape: m.inputShape, seed: m.seed });
  model.loadStateDict(ckpt.tensors);
  return { model, meta: m };
}
