import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';
import { DATASET_INFO } from '../data/datasets.js';
import { parseWith, readJsonFile } from '../io/json.js';
import { opRegistryVersion } from '../ops/index.js';
import { DEFAULT_LATENCY_TABLE } from '../latency/tables.js';
import { RecipeHeader, TrainSection } from '../spec/recipe.js';
import { searchSpaceSchema, type SearchSpace } from '../spec/space.js';
import { getStrategy, strategies, strategyRegistryVersion, type SectionBase } from './strategy.js';
import './strategies/index.js';

export { DEFAULT_LATENCY_TABLE };

/** Command-line overrides a run applied to its recipe (recorded in the normalized recipe). */
export const OverridesSchema = z.strictObject({
  budget: z.number().min(0).optional(),
  budgets: z.array(z.number().min(0)).min(1).optional(),
  seed: z.number().int().nonnegative().optional(),
  dataDir: z.string().optional(),
  backend: z.enum(BACKEND_CHOICES).optional(),
});
export type Overrides = z.output<typeof OverridesSchema>;

function buildSearchRecipeSchema() {
  const sections = strategies().map((s) => s.section) as unknown as [z.ZodObject<{ strategy: z.ZodLiteral<string> }>, ...z.ZodObject<{ strategy: z.ZodLiteral<string> }>[]];
  return z.strictObject({
    ...RecipeHeader,
    /** The all-ReLU teacher: `weights` (a run folder or weights file) or `train` settings. */
    teacher: z.union([z.strictObject({ weights: z.string().min(1) }), z.strictObject({ train: TrainSection })]),
    /** A search-space file, the name of a shipped space, or an inline space. */
    space: z.union([z.string().min(1), searchSpaceSchema()]),
    /** The strategy's section (`strategy` picks it; every registered strategy has one). */
    search: z.discriminatedUnion('strategy', sections),
    /** Finetuning with the decisions frozen (distillation from the teacher unless `distill` is false). */
    finetune: TrainSection.extend({ distill: z.boolean().default(true) }),
    /** The latency table (id or file) and network profile of the export's predicted cost. */
    latency: z
      .strictObject({
        table: z.string().min(1),
        network: z.string().optional(),
        /**
         * The one opt-in for a table that does not price every candidate: the export's predicted latency then
         * leaves those operators out (noted). Default false: an unpriced candidate is an error before training.
         */
        allowUnpriced: z.boolean().default(false),
      })
      .default({ table: DEFAULT_LATENCY_TABLE, allowUnpriced: false }),
    /** Budgets of `polynas sweep` (counts, fractions or 0). */
    sweep: z.strictObject({ budgets: z.array(z.number().min(0)).min(1) }).optional(),
    /** The command-line overrides a run applied (written by the run; their values are already in place). */
    overrides: OverridesSchema.optional(),
    /** Values derived from the data and the schedule once known (written by the run, recomputed on every run). */
    resolved: z.record(z.string(), z.union([z.number(), z.string(), z.null()])).optional(),
  });
}

type BuiltSchema = ReturnType<typeof buildSearchRecipeSchema>;
let cached: { version: string; schema: BuiltSchema } | undefined;

/**
 * The schema of search recipes, built from the strategy and operator registries when called (a
 * strategy or operator registered after import validates).
 *
 * @example
 * ```ts
 * searchRecipeSchema().safeParse(json).success;
 * ```
 */
export function searchRecipeSchema(): BuiltSchema {
  const v = `${strategyRegistryVersion()}:${opRegistryVersion()}`;
  if (cached?.version !== v) cached = { version: v, schema: buildSearchRecipeSchema() };
  return cached.schema;
}

/** A search recipe (the `search` section is the strategy's own; its settings parse with the strategy's schema). */
export type SearchRecipe = Omit<z.output<BuiltSchema>, 'search'> & { search: SectionBase };

/**
 * Validates a search recipe, reporting every problem with its path.
 *
 * @example
 * ```ts
 * const recipe = parseSearchRecipe(JSON.parse(text), 'my-recipe.json'); // throws ValidationError listing every problem
 * ```
 */
export function parseSearchRecipe(input: unknown, source = 'search recipe'): SearchRecipe {
  return parseWith(searchRecipeSchema(), input, source, (r) =>
    (r.search as SectionBase).budget === undefined && getStrategy(r.search.strategy).needsBudget ? [{ path: 'search.budget', code: 'invalid_type', message: `the ${r.search.strategy} strategy needs a budget` }] : [],
  ) as SearchRecipe;
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
  const r = parseSearchRecipe(readJsonFile(path, 'recipe'), path);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(dirname(path), p));
  if (r.dataset.dir) r.dataset.dir = abs(r.dataset.dir);
  if ('weights' in r.teacher) r.teacher.weights = abs(r.teacher.weights);
  // A space is a file (relative to the recipe) or the name of a shipped space.
  if (typeof r.space === 'string' && /[\\/]|\.json$/.test(r.space)) r.space = abs(r.space);
  if (r.latency.table.endsWith('.json')) r.latency.table = abs(r.latency.table);
  return r;
}

/**
 * The one configuration a run uses, records in `recipe.json` and embeds in `architecture.json`: the
 * recipe with the overrides applied to a copy (and recorded), and what the dataset and space decide
 * filled in by the strategy (e.g. AutoReP's augmentation and DaPa settings). Every other default is
 * already in place from the schema.
 *
 * @example
 * ```ts
 * const normalized = normalizeSearchRecipe(loadSearchRecipe('r.json'), loadSearchSpace('resnet20-pixel'), { budget: 0.05 });
 * normalized.search.budget; // 0.05
 * ```
 */
export function normalizeSearchRecipe(recipe: SearchRecipe, space: SearchSpace, overrides: Overrides = {}): SearchRecipe {
  const r: SearchRecipe = structuredClone(recipe);
  delete r.resolved;
  if (overrides.budget !== undefined) r.search.budget = overrides.budget;
  if (overrides.budgets) r.sweep = { budgets: overrides.budgets };
  if (overrides.seed !== undefined) r.seed = overrides.seed;
  if (overrides.dataDir !== undefined) r.dataset.dir = overrides.dataDir;
  if (overrides.backend !== undefined) r.backend = overrides.backend;
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  if (Object.keys(given).length) r.overrides = { ...r.overrides, ...given };
  // The overrides are validated with the recipe (a bad value is named with its field).
  const checked = parseSearchRecipe(r, overridesSource(r.name, given));
  const strategy = getStrategy(checked.search.strategy);
  checked.search = strategy.normalize ? strategy.normalize(checked.search, { space, imageShape: DATASET_INFO[checked.dataset.name].shape }) : checked.search;
  return parseSearchRecipe(checked, `${r.name} (normalized)`);
}

/** How errors name a recipe with overrides: `recipe 'x' (overrides budget=-5)`. */
function overridesSource(name: string, given: Record<string, unknown>): string {
  const parts = Object.entries(given).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return parts.length ? `recipe '${name}' (overrides ${parts.join(', ')})` : `recipe '${name}'`;
}

/** JSON Schema of search recipes (for editors: `"$schema"` in a recipe). */
export function searchRecipeJsonSchema(): unknown {
  return z.toJSONSchema(searchRecipeSchema(), { io: 'input' });
}
