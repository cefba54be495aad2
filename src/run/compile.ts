import { readJsonFile } from '../io/json.js';
import { createBackbone } from '../backbones/registry.js';
import { DATASET_INFO } from '../data/datasets.js';
import { loadLatencyTable } from '../latency/tables.js';
import { loadSearchSpace } from '../spec/space.js';
import { loadTrainRecipe } from '../spec/recipe.js';
import { resolveBudget } from '../search/budget.js';
import { loadSearchRecipe, normalizeSearchRecipe, type Overrides } from '../search/recipe.js';
import { getStrategy } from '../search/strategy.js';
import { buildSupernet } from '../supernet/build.js';
import { searchableRelus } from '../supernet/gate.js';

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
    if (space.backbone !== r.backbone.name) throw new Error(`${path}: space '${space.name}' is for '${space.backbone}' but the recipe's backbone is '${r.backbone.name}'`);
    const table = loadLatencyTable(r.latency.table);
    if (r.latency.network && table.networks && !table.networks.some((n) => n.name === r.latency.network)) {
      throw new Error(`${path}: latency.network '${r.latency.network}' is not a profile of table '${table.id}' (${table.networks.map((n) => n.name).join(', ')})`);
    }
    const s = r.search;
    const strategy = getStrategy(s.strategy);
    const gates = await buildSupernet(net, space, { gate: strategy.gate, seed: r.seed, ...(strategy.maskRule ? { rule: strategy.maskRule } : {}) });
    const searchable = searchableRelus(gates);
    const budgets = [s.budget, ...(r.sweep?.budgets ?? [])].map((b) => (b === undefined ? null : resolveBudget(b, searchable)));
    return { kind: 'search', ...base, searchable, gates: gates.length, budgets, table: table.id };
  } finally {
    net.dispose();
  }
}
