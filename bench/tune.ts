/**
 * `npx tsx bench/tune.ts`: choose AutoReP defaults on a **validation split carved from the training set**
 * (the test set stays for `bench:accuracy`). The CIFAR-10 folder's five training batches are shuffled
 * (seed 0) and split into 1,017 validation images (written as `test_batch.bin`) and the rest (the five
 * training batches) in `<out>/data`; then ResNet-20 (the sweep recipe: teacher 15 epochs, search 3,
 * finetune 2) runs each configuration at each budget on one shared teacher. Rows go to `<out>/tune.json`.
 *
 *   npx tsx bench/tune.ts --configs '{"default":{},"x2-scale-1":{"space":{"poly":{"squareScale":1}}}}' [--budgets 0.01,0]
 *                          [--cifar-dir DIR] [--out bench/results/tune]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import seedrandom from 'seedrandom';
import { loadSearchRecipe, parseSearchSpace, runSearchRecipe, runSweep, type SearchRecipe } from '../src/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { budgetDirName } from '../src/run/sweep.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '{"default":{}}' }, budgets: { type: 'string', default: '0.01,0' },
    'cifar-dir': { type: 'string', default: process.env.POLYNAS_CIFAR10_DIR }, out: { type: 'string', default: join(root, 'bench/results/tune') },
  },
});
if (!values['cifar-dir']) throw new Error('tune: pass --cifar-dir or set POLYNAS_CIFAR10_DIR (a CIFAR-10 binary folder)');
const out = resolve(values.out!);
const RECORD = 3073;

/** Training batches shuffled with seed 0: 1,017 images become the validation "test" batch. */
function carveValidation(src: string, dst: string): void {
  if (existsSync(join(dst, 'test_batch.bin'))) return;
  mkdirSync(dst, { recursive: true });
  const all = Buffer.concat([1, 2, 3, 4, 5].map((i) => readFileSync(join(src, `data_batch_${i}.bin`))));
  const n = all.length / RECORD;
  const rand = seedrandom('polynas-validation-0');
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const pick = (ids: number[]) => Buffer.concat(ids.sort((a, b) => a - b).map((i) => all.subarray(i * RECORD, (i + 1) * RECORD)));
  const val = order.slice(0, 1017);
  const train = order.slice(1017);
  const per = Math.ceil(train.length / 5);
  for (let b = 0; b < 5; b++) writeFileSync(join(dst, `data_batch_${b + 1}.bin`), pick(train.slice(b * per, (b + 1) * per)));
  writeFileSync(join(dst, 'test_batch.bin'), pick(val));
}

const data = join(out, 'data');
carveValidation(values['cifar-dir'], data);
const recipe: SearchRecipe = loadSearchRecipe(join(root, 'experiments/sweep-resnet20-cifar10-subset.json'));
const budgets = values.budgets!.split(',').map(Number);
const configs = JSON.parse(values.configs!) as Record<string, { search?: Record<string, unknown>; space?: Record<string, unknown> }>;
const teacher = join(out, 'teacher-run', 'teacher');
if (!existsSync(join(teacher, 'model.weights.bin'))) await runSweep(recipe, { outDir: join(out, 'teacher-run'), overrides: { dataDir: data, budgets: [budgets[0]!] } });
const file = join(out, 'tune.json');
const rows: Record<string, unknown>[] = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).rows : [];
const baseSpace = JSON.parse(readFileSync(join(root, 'search-spaces/resnet20-pixel.json'), 'utf8'));
for (const [name, c] of Object.entries(configs)) {
  for (const b of budgets) {
    const dir = join(out, name, budgetDirName(b));
    if (rows.some((r) => r.config === name && r.requested === b)) continue;
    const space = parseSearchSpace({ ...baseSpace, $schema: undefined, activation: { ...baseSpace.activation, ...(c.space ?? {}) } });
    const r: SearchRecipe = { ...recipe, name: `tune-${name}`, teacher: { weights: teacher }, space, search: { ...recipe.search, ...(c.search ?? {}) } as SearchRecipe['search'], sweep: undefined };
    await runSearchRecipe(r, { outDir: dir, resume: true, overrides: { dataDir: data, budget: b } });
    const res = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    rows.push({ config: name, requested: b, budget: res.budget, countBeforeProjection: res.countBeforeProjection, relus: res.relus, valProjected: res.projected.top1, valFinetuned: res.finetuned.top1, teacher: res.teacher.top1 });
    writeJsonAtomic(file, { written: new Date().toISOString(), note: 'validation split carved from the training set (test set untouched)', rows });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
}
