import { existsSync } from 'node:fs';
import { createBackbone } from '../backbones/registry.js';
import { givenWeightsFile } from './identity.js';
import { checkDataset, DATASET_INFO } from '../data/datasets.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { loadLatencyTable } from '../latency/tables.js';
import type { LatencyTable } from '../latency/schema.js';
import { getOp } from '../ops/index.js';
import { budgetBasis, networkBudget } from '../search/budget.js';
import type { SearchRecipe } from '../search/recipe.js';
import { getStrategy } from '../search/strategy.js';
import type { SearchSpace } from '../spec/space.js';
import { buildSupernet } from '../supernet/build.js';

/** What a search recipe resolves to before anything runs. */
export interface Preflight {
  /** ReLUs the supernet can keep (the budgets' denominator). */
  searchable: number;
  gates: number;
  /** The search budget, then the sweep's, as absolute counts (null: none). */
  budgets: (number | null)[];
  table: LatencyTable;
  /** Things worth knowing that are not errors (operators a table leaves unmodelled on purpose). */
  notes: string[];
}

/** Raised for a recipe problem found before any training, naming the file, the field and the value. */
export class RecipeCheckError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(source: string, field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
    this.name = 'RecipeCheckError';
  }
}

/** Runs `f`, naming the file and field in the error it throws. */
function named<T>(source: string, field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new RecipeCheckError(source, field, (e as Error).message);
  }
}

/** Every candidate operator of the space must be priced by the table, unless the recipe opts out. */
function checkPricing(recipe: SearchRecipe, space: SearchSpace, table: LatencyTable, source: string): string[] {
  const notes: string[] = [];
  const candidates = [...(space.activation?.candidates ?? []), ...(space.pool?.candidates ?? [])];
  for (const id of candidates) {
    const op = getOp(id).costOp;
    const entry = table.ops[op];
    if (!entry) {
      if (!recipe.latency.allowUnpriced) throw new RecipeCheckError(source, 'latency.table', `table '${table.id}' has no entry for '${op}' (candidate '${id}' of space '${space.name}'), so the export's latency would leave it out; price it in the table, or set latency.allowUnpriced: true`);
      notes.push(`table '${table.id}' does not price candidate '${id}' (latency.allowUnpriced): the predicted latency leaves it out`);
    } else if (entry.model === 'unavailable') {
      // A DARTS search prices every candidate inside its loss: an unpriced one would look free.
      if (recipe.search.strategy === 'darts' && !recipe.latency.allowUnpriced) {
        throw new RecipeCheckError(source, 'latency.table', `table '${table.id}' cannot price candidate '${id}' (unavailable: ${entry.reason}), which the DARTS latency term would treat as free; choose a table that prices it, or set latency.allowUnpriced: true`);
      }
      notes.push(`table '${table.id}' leaves '${op}' unmodelled on purpose: the predicted latency leaves it out`);
    }
  }
  return notes;
}

/** A teacher given by its weights must exist and classify the dataset's classes. */
function checkTeacher(recipe: SearchRecipe, source: string): void {
  if (!('weights' in recipe.teacher)) return;
  const w = recipe.teacher.weights;
  const file = givenWeightsFile(w);
  const ckpt = existsSync(file) ? loadCheckpoint<{ numClasses?: number; backbone?: string }>(file) : undefined;
  if (!ckpt) throw new RecipeCheckError(source, 'teacher.weights', `no weights at ${file}`);
  const want = DATASET_INFO[recipe.dataset.name].numClasses;
  if (ckpt.meta.numClasses !== undefined && ckpt.meta.numClasses !== want) {
    throw new RecipeCheckError(source, 'teacher.weights', `the teacher at ${file} has ${ckpt.meta.numClasses} classes but dataset '${recipe.dataset.name}' has ${want}`);
  }
  if (ckpt.meta.backbone !== undefined && ckpt.meta.backbone !== recipe.backbone.name) {
    throw new RecipeCheckError(source, 'teacher.weights', `the teacher at ${file} is a '${ckpt.meta.backbone}', the recipe's backbone is '${recipe.backbone.name}'`);
  }
}

/**
 * Checks a normalized search recipe before any training: the backbone and the space's match, the
 * dataset's files (or that a download may fetch them), the teacher's weights, the latency table and
 * its network profile, every candidate priced by the table, and every budget (the search's and the
 * sweep's) against the exact searchable ReLU count of a freshly built supernet. Throws the first
 * problem with the file, field and value named.
 *
 * @example
 * ```ts
 * const { searchable, budgets } = await preflightSearch(normalized, space, 'r.json');
 * ```
 */
export async function preflightSearch(recipe: SearchRecipe, space: SearchSpace, source: string): Promise<Preflight> {
  named(source, 'backbone.name', () => createBackbone(recipe.backbone.name, { numClasses: 10 }).dispose());
  if (space.backbone !== recipe.backbone.name) throw new RecipeCheckError(source, 'space', `space '${space.name}' is for '${space.backbone}' but the recipe's backbone is '${recipe.backbone.name}'`);
  checkDataset(recipe.dataset);
  checkTeacher(recipe, source);
  const table = named(source, 'latency.table', () => loadLatencyTable(recipe.latency.table));
  const profile = recipe.latency.network;
  if (profile && table.networks && !table.networks.some((n) => n.name === profile)) {
    throw new RecipeCheckError(source, 'latency.network', `'${profile}' is not a profile of table '${table.id}' (${table.networks.map((n) => n.name).join(', ')})`);
  }
  const notes = checkPricing(recipe, space, table, source);
  const info = DATASET_INFO[recipe.dataset.name];
  const net = createBackbone(recipe.backbone.name, { numClasses: info.numClasses, inputShape: info.shape });
  try {
    const strategy = getStrategy(recipe.search.strategy);
    const gates = await buildSupernet(net, space, { gate: strategy.gate, seed: recipe.seed, ...(strategy.maskRule ? { rule: strategy.maskRule } : {}), ...strategy.supernet?.(recipe.search) });
    const basis = budgetBasis(net, gates, { countMaxPool: (recipe.search as { countMaxPool?: boolean }).countMaxPool ?? false });
    const searchable = basis.searchable;
    const fields: [string, number | undefined][] = [['search.budget', recipe.search.budget], ...(recipe.sweep?.budgets ?? []).map((b, i) => [`sweep.budgets.${i}`, b] as [string, number])];
    const budgets = fields.map(([field, b]) => {
      if (b === undefined) return null;
      try {
        return networkBudget(b, basis).budget;
      } catch (e) {
        throw new RecipeCheckError(source, field, (e as Error).message);
      }
    });
    return { searchable, gates: gates.length, budgets, table, notes };
  } finally {
    net.dispose();
  }
}
