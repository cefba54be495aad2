// Writes the JSON Schema files generated from polynas' zod schemas (`npm run schemas`); a test checks
// that the committed files are current.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latencyTableJsonSchema } from '../src/latency/schema.js';
import { searchSpaceJsonSchema } from '../src/spec/space.js';
import { trainRecipeJsonSchema } from '../src/spec/recipe.js';
import { searchRecipeJsonSchema } from '../src/search/recipe.js';
import { registryTables } from '../src/run/registry-tables.js';

const root = join(import.meta.dirname, '..');
const files: [string, () => unknown][] = [
  ['search-spaces/search-space.schema.json', searchSpaceJsonSchema],
  ['latency-tables/latency-table.schema.json', latencyTableJsonSchema],
  ['experiments/search-recipe.schema.json', searchRecipeJsonSchema],
  ['experiments/train-recipe.schema.json', trainRecipeJsonSchema],
];
for (const [file, schema] of files) {
  writeFileSync(join(root, file), JSON.stringify(schema(), null, 2) + '\n');
  console.log(file);
}

// The guide's tables of registered operators and strategies.
const guide = join(root, 'docs', 'guide.md');
writeFileSync(guide, registryTables(readFileSync(guide, 'utf8')));
console.log('docs/guide.md');
