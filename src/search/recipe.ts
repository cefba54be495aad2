import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { RecipeHeader, TrainSection } from '../spec/recipe.js';
import { SearchSpaceSchema } from '../spec/space.js';
import { parseWith, readJsonFile } from '../io/json.js';

const AutorepSection = z.strictObject({
  strategy: z.literal('autorep'),
  /** ReLU budget: a count (≥ 1), a fraction (< 1) of the searchable ReLUs, or 0 (all-polynomial). */
  budget: z.number().min(0),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive().optional(),
  minLr: z.number().min(0).optional(),
  alphaLr: z.number().positive().optional(),
  lambda: z.number().positive().optional(),
  annealFraction: z.number().gt(0).max(1).optional(),
  temperature: z.number().positive().optional(),
  distillWeight: z.number().min(0).optional(),
  dapaEvery: z.number().int().min(0).optional(),
  dapaUntil: z.number().int().min(0).optional(),
  dapaDamping: z.array(z.number()).optional(),
  threshold: z.number().positive().optional(),
});

const SnlSection = z.strictObject({
  strategy: z.literal('snl'),
  budget: z.number().min(0),
  /** Maximum epochs (the search stops once the count reaches the budget). */
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive().optional(),
  alphaLr: z.number().positive().optional(),
  lambda: z.number().positive().optional(),
  temperature: z.number().positive().optional(),
  distillWeight: z.number().min(0).optional(),
});

const DartsSection = z.strictObject({
  strategy: z.literal('darts'),
  /** 1: first-order DARTS; 2: unrolled second order (PASNet Algorithm 1). */
  order: z.union([z.literal(1), z.literal(2)]).default(1),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive().optional(),
  minLr: z.number().min(0).optional(),
  momentum: z.number().min(0).max(1).optional(),
  weightDecay: z.number().min(0).optional(),
  clipNorm: z.number().positive().optional(),
  archLr: z.number().positive().optional(),
  archWeightDecay: z.number().min(0).optional(),
  /** λ_lat: weight of the expected latency (relative to the all-ReLU network) in the search loss. */
  latencyWeight: z.number().min(0).default(0),
  /** Optional ReLU-budget hinge weight (needs `budget`). */
  reluWeight: z.number().min(0).optional(),
  /** Optional exact ReLU budget of the discretization (count, fraction or 0); absent: argmax per gate. */
  budget: z.number().min(0).optional(),
});

/**
 * A search recipe: teacher (trained here or loaded), search space, strategy settings, finetuning and
 * the latency table of the export. Paths resolve against the recipe file.
 */
export const SearchRecipeSchema = z.strictObject({
  ...RecipeHeader,
  /** The all-ReLU teacher: `weights` (a run folder or weights file) or `train` settings. */
  teacher: z.union([z.strictObject({ weights: z.string().min(1) }), z.strictObject({ train: TrainSection })]),
  /** A search-space file or an inline space. */
  space: z.union([z.string().min(1), SearchSpaceSchema]),
  search: z.discriminatedUnion('strategy', [AutorepSection, SnlSection, DartsSection]),
  /** Finetuning with the decisions frozen (distillation from the teacher unless `distill` is false). */
  finetune: TrainSection.extend({ distill: z.boolean().default(true) }),
  latency: z.strictObject({ table: z.string().min(1), network: z.string().optional() }).default({ table: 'pasnet-dac2023-code' }),
  /** Budgets of `polynas sweep` (counts, fractions or 0); `--budgets` overrides them. */
  sweep: z.strictObject({ budgets: z.array(z.number().min(0)).min(1) }).optional(),
});

export type SearchRecipe = z.infer<typeof SearchRecipeSchema>;

/**
 * Validates a search recipe, reporting every problem with its path.
 *
 * @example
 * ```ts
 * const recipe = parseSearchRecipe(JSON.parse(text), 'my-recipe.json'); // throws ValidationError listing every problem
 * ```
 */
export function parseSearchRecipe(input: unknown, source = 'search recipe'): SearchRecipe {
  return parseWith(SearchRecipeSchema, input, source);
}

/**
 * Reads a search recipe; relative paths (dataset, teacher weights, space, table file) resolve against it.
 *
 * @example
 * ```ts
 * const recipe = loadSearchRecipe('experiments/quickstart.json');
 * recipe.search.strategy; // 'autorep'
 * ```
 */
export function loadSearchRecipe(path: string): SearchRecipe {
  const json = readJsonFile(path, 'recipe');
  const r = parseSearchRecipe(json, path);
  const base = dirname(path);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  if (r.dataset.dir) r.dataset.dir = abs(r.dataset.dir);
  if ('weights' in r.teacher) r.teacher.weights = abs(r.teacher.weights);
  // A space is a file (relative to the recipe) or the name of a shipped space.
  if (typeof r.space === 'string' && (/[\\/]|\.json$/.test(r.space))) r.space = abs(r.space);
  if (r.latency.table.endsWith('.json')) r.latency.table = abs(r.latency.table);
  return r;
}
