import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../src/backbones/registry.js';
import { loadLatencyTable, SHIPPED_TABLES_DIR, shippedTableIds } from '../src/latency/tables.js';
import { latencyTableJsonSchema } from '../src/latency/schema.js';
import { loadSearchSpace, searchSpaceJsonSchema } from '../src/spec/space.js';
import { trainRecipeJsonSchema } from '../src/spec/recipe.js';
import { searchRecipeJsonSchema } from '../src/search/recipe.js';
import { buildSupernet } from '../src/supernet/build.js';
import { compileRecipe } from '../src/run/compile.js';
import { runCli } from '../src/cli/main.js';
import { cifarSubsetDir } from './helpers.js';
import { registryTables } from '../src/run/registry-tables.js';

/**
 * Everything polynas ships as data: every recipe compiles (validated and built without training),
 * every space builds its supernet, every latency table validates with provenance, and every
 * generated JSON Schema file is current.
 */
const root = join(__dirname, '..');
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const recipes = readdirSync(join(root, 'experiments')).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
const spaces = readdirSync(join(root, 'search-spaces')).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));

describe('generated JSON Schemas', () => {
  it.each([
    ['search-spaces/search-space.schema.json', searchSpaceJsonSchema],
    ['latency-tables/latency-table.schema.json', latencyTableJsonSchema],
    ['experiments/search-recipe.schema.json', searchRecipeJsonSchema],
    ['experiments/train-recipe.schema.json', trainRecipeJsonSchema],
  ] as const)('%s is current', (file, schema) => {
    expect(json(join(root, file))).toEqual(JSON.parse(JSON.stringify(schema())));
  });
});

describe("the guide's tables of registered operators and strategies", () => {
  it('are current (npm run schemas rewrites them)', () => {
    const guide = readFileSync(join(root, 'docs', 'guide.md'), 'utf8');
    expect(registryTables(guide)).toBe(guide);
  });
});

describe('shipped recipes', () => {
  it('include the published full-scale setups and small local ones, each declaring its JSON Schema', () => {
    for (const f of ['autorep-resnet18-cifar10-12.9k.json', 'snl-resnet18-cifar10.json', 'snl-resnet18-cifar100.json', 'pasnet-resnet18-cifar10.json', 'quickstart.json', 'sweep-resnet20-cifar10-subset.json', 'search-lenet5-fashion-mnist.json']) {
      expect(recipes).toContain(f);
    }
    for (const f of recipes) {
      const r = json(join(root, 'experiments', f));
      expect(r.$schema, f).toBe('search' in r ? './search-recipe.schema.json' : './train-recipe.schema.json');
      expect(r.name, f).toBe(f.replace(/\.json$/, ''));
    }
  });

  // Recipes for a local CIFAR-10 folder (download: false) compile against the shared subset.
  const local = (f: string) => (json(join(root, 'experiments', f)).dataset.download === false ? { dataDir: cifarSubsetDir() } : {});

  it.each(recipes)('%s compiles', async (f) => {
    const c = await compileRecipe(join(root, 'experiments', f), local(f));
    expect(c.relus).toBe(createBackbone(c.backbone, { numClasses: 10, inputShape: c.inputShape }).reluCount().total);
    if (c.kind === 'search') {
      expect(c.gates).toBeGreaterThan(0);
      for (const b of c.budgets!) if (b !== null) expect(b).toBeLessThanOrEqual(c.searchable!);
    }
  });

  it('resolve the published budgets exactly', async () => {
    const autorep = await compileRecipe(join(root, 'experiments', 'autorep-resnet18-cifar10-12.9k.json'));
    expect(autorep.searchable).toBe(491_520); // SNL's CIFAR ResNet-18 without the stem ReLU
    expect(autorep.budgets).toEqual([12_900, 1_800, 12_900, 24_900, 51_200]);
    expect(autorep.parameters).toBe(11_173_962);
    const snl100 = await compileRecipe(join(root, 'experiments', 'snl-resnet18-cifar100.json'));
    expect(snl100.parameters).toBe(11_173_962 + 90 * 513); // a 100-way head instead of 10
    const sweep = await compileRecipe(join(root, 'experiments', 'sweep-resnet20-cifar10-subset.json'), local('sweep-resnet20-cifar10-subset.json'));
    expect(sweep.budgets).toEqual([9_420, 1_884, 9_420, 37_683, 94_208]); // ⌊f · 188,416⌋: every ReLU of ResNet-20, the stem's included
    const overridden = await compileRecipe(join(root, 'experiments', 'sweep-resnet20-cifar10-subset.json'), { ...local('sweep-resnet20-cifar10-subset.json'), budget: 0.1, budgets: [100, 0.5] });
    expect(overridden.budgets).toEqual([18_841, 100, 94_208]);
  });

  it('polynas search --dry-run prints the compiled recipe without training', async () => {
    const out: string[] = [];
    expect(await runCli(['search', '--recipe', join(root, 'experiments', 'pasnet-resnet18-cifar10.json'), '--dry-run'], { out: (l) => out.push(l), print: () => {}, tty: false })).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ kind: 'search', backbone: 'resnet18', gates: 17, table: 'pasnet-dac2023-code' });
  });
});

describe('shipped search spaces', () => {
  it.each(spaces)('%s builds a supernet on its backbone', async (f) => {
    const space = loadSearchSpace(join(root, 'search-spaces', f));
    expect(space.name).toBe(f.replace(/\.json$/, ''));
    const net = createBackbone(space.backbone, { numClasses: 10 });
    // Spaces with pool decisions are searched with DARTS gates; the others with mask gates.
    const gates = await buildSupernet(net, space, { gate: space.pool ? 'darts' : 'mask', seed: 0 });
    const sites = net.sites().filter((s) => (s.site.kind === 'activation' && (space.activation?.includeStem || !s.site.stem)) || (space.pool && s.site.kind === 'pool'));
    expect(gates).toHaveLength(sites.length);
    net.dispose();
  });
});

describe('shipped latency tables', () => {
  it('all validate and carry provenance for every modelled operator', () => {
    const ids = shippedTableIds();
    expect(ids).toEqual(['cheetah-approxrelu-r50', 'crypten-2pc-dealer', 'delphi-gc-epyc7502', 'pasnet-dac2023-code', 'polynas-pi-dealer', 'sci-he-r50']);
    for (const id of ids) {
      const t = loadLatencyTable(id);
      expect(t.provenance.sources.length).toBeGreaterThan(0);
      for (const [op, e] of Object.entries(t.ops)) if (e.model !== 'unavailable' && !e.provenance) throw new Error(`${id}.${op} has no provenance`);
    }
    expect(SHIPPED_TABLES_DIR).toContain('latency-tables');
  });
});
