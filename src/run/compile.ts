import { readJsonFile } from '../io/json.js';
import { createBackbone } from '../backbones/registry.js';
import { DATASET_INFO } from '../data/datasets.js';
import { loadSearchSpace } from '../spec/space.js';
import { loadTrainRecipe } from '../spec/recipe.js';
import { loadSearchRecipe, normalizeSearchRecipe, type Overrides } from '../search/recipe.js';
import { preflightSearch } from './preflight.js';

/** What {@link compileRecipe} found: the recipe builds, and these are its sizes. */
export interface CompiledRecipe {
  kind: 'train' | 'search';
  name: string;
  backbone: string;
  inputShape: [number, number, number];
  parameters: number;
  /** ReLUs of the all-ReLU network (stem excluded). */
  relus: number;
  /** Search recipes: searchable ReLUs, gates, absolute budgets (the search budget, then the sweep's), latency table. */
  searchable?: number;
  gates?: number;
  budgets?: (number | null)[];
  table?: string;
  /** What is worth knowing but not an error (e.g. operators the table leaves unmodelled). */
  notes?: string[];
}

/**
 * Validates a training or search recipe and builds everything it describes without loading data
 * or training: the backbone at the dataset's input shape, the search space's supernet, every
 * budget resolved against the searchable ReLUs (after the overrides), and the latency table.
 * Throws the first problem with the file and field named.
 *
 * @example
 * ```ts
 * const c = await compileRecipe('experiments/autorep-resnet18-cifar10-12.9k.json');
 * console.log(c.searchable, c.budgets); // 491520 [12900]
 * ```
 */
export async function compileRecipe(path: string, overrides: Overrides = {}): Promise<CompiledRecipe> {
  const json = readJsonFile(path, 'recipe');
  const isSearch = typeof json === 'object' && json !== null && 'search' in json;
  const recipe = isSearch ? loadSearchRecipe(path) : loadTrainRecipe(path);
  const info = DATASET_INFO[recipe.dataset.name];
  const net = createBackbone(recipe.backbone.name, { numClasses: info.numClasses, inputShape: info.shape });
  try {
    const base = { name: recipe.name, backbone: recipe.backbone.name, inputShape: info.shape, parameters: net.parameterCount(), relus: net.reluCount().total };
    if (!isSearch) return { kind: 'train', ...base };
    const loaded = loadSearchRecipe(path);
    const space = typeof loaded.space === 'string' ? loadSearchSpace(loaded.space) : loaded.space;
    const r = normalizeSearchRecipe(loaded, space, overrides);
    const p = await preflightSearch(r, space, path);
    return { kind: 'search', ...base, searchable: p.searchable, gates: p.gates, budgets: p.budgets, table: p.table.id, notes: p.notes };
  } finally {
    net.dispose();
  }
}
