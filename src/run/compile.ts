import { readJsonFile } from '../io/json.js';
import { createBackbone } from '../backbones/registry.js';
import { DATASET_INFO } from '../data/datasets.js';
import { loadLatencyTable } from '../latency/tables.js';
import { loadSearchSpace } from '../spec/space.js';
import { buildMaskSupernet } from '../supernet/build.js';
import { DartsGate } from '../supernet/darts-gate.js';
import { loadTrainRecipe } from '../spec/recipe.js';
import { resolveBudget } from '../search/budget.js';
import { buildDartsSupernet } from '../search/darts.js';
import { loadSearchRecipe } from '../search/recipe.js';

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
 * budget resolved against the searchable ReLUs, and the latency table. Throws the first problem
 * with the file and field named.
 *
 * @example
 * ```ts
 * const c = compileRecipe('experiments/autorep-resnet18-cifar10-12.9k.json');
 * console.log(c.searchable, c.budgets); // 491520 [12900]
 * ```
 */
export function compileRecipe(path: string): CompiledRecipe {
  const json = readJsonFile(path, 'recipe') as Record<string, unknown>;
  const isSearch = 'search' in json;
  const recipe = isSearch ? loadSearchRecipe(path) : loadTrainRecipe(path);
  const info = DATASET_INFO[recipe.dataset.name];
  const net = createBackbone(recipe.backbone.name, { numClasses: info.numClasses, inputShape: info.shape });
  try {
    const base = { name: recipe.name, backbone: recipe.backbone.name, inputShape: info.shape, parameters: net.parameterCount(), relus: net.reluCount().total };
    if (!isSearch) return { kind: 'train', ...base };
    const r = loadSearchRecipe(path);
    const space = typeof r.space === 'string' ? loadSearchSpace(r.space) : r.space;
    if (space.backbone !== r.backbone.name) throw new Error(`${path}: space '${space.name}' is for '${space.backbone}' but the recipe's backbone is '${r.backbone.name}'`);
    const table = loadLatencyTable(r.latency.table);
    if (r.latency.network && table.networks && !table.networks.some((n) => n.name === r.latency.network)) {
      throw new Error(`${path}: latency.network '${r.latency.network}' is not a profile of table '${table.id}' (${table.networks.map((n) => n.name).join(', ')})`);
    }
    const s = r.search;
    const gates =
      s.strategy === 'darts'
        ? buildDartsSupernet(net, space, table, r.latency.network).gates
        : buildMaskSupernet(net, space, { seed: r.seed, ...(s.strategy === 'snl' ? { mode: 'continuous' as const } : {}) }).gates;
    const searchable = gates.reduce((a, g) => a + (g.gate instanceof DartsGate && !g.gate.names.includes('relu') ? 0 : g.gate.siteSize()), 0);
    const budgets = [s.budget, ...(r.sweep?.budgets ?? [])].map((b) => (b === undefined ? null : resolveBudget(b, searchable)));
    return { kind: 'search', ...base, searchable, gates: gates.length, budgets, table: table.id };
  } finally {
    net.dispose();
  }
}
