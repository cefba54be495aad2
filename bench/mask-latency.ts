/**
 * `npm run bench:mask-latency`: the λ_lat sweep of the mask-search latency term. AutoReP on LeNet-5 /
 * Fashion-MNIST at one budget (default 5 % of its ReLUs) with `latencyWeight` ∈ {0, 1, 10}: each row
 * gives the exact ReLU count, the activation layers that keep any ReLU, the predicted 2PC latency
 * (CrypTen, WAN: every layer with a ReLU pays its 9 comparison rounds) and the accuracy. One teacher
 * is trained and shared; finished runs are not redone; rows go to `<out>/mask-latency.json`.
 *
 *   npm run bench:mask-latency -- [--weights 0,1,10] [--budget 0.05] [--seed 0] [--fmnist-dir DIR] [--out bench/results/mask-latency]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSearchRecipe, runSearchRecipe, type SearchRecipe } from '../src/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    weights: { type: 'string', default: '0,1,10' }, budget: { type: 'string', default: '0.05' }, seed: { type: 'string', default: '0' },
    'fmnist-dir': { type: 'string', default: process.env.POLYNAS_FASHION_MNIST_DIR }, out: { type: 'string', default: join(root, 'bench/results/mask-latency') },
  },
});
const out = resolve(values.out!);

/** The option, else the folder Debian's dataset-fashion-mnist installed (asked of dpkg). */
function fashionMnistDir(): string {
  if (values['fmnist-dir']) return values['fmnist-dir'];
  const file = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8' }).split('\n').find((f) => f.endsWith('train-images-idx3-ubyte.gz'));
  if (!file) throw new Error('Fashion-MNIST: pass --fmnist-dir or install dataset-fashion-mnist');
  return dirname(file);
}

const recipe: SearchRecipe = loadSearchRecipe(join(root, 'experiments/search-lenet5-fashion-mnist.json'));
const overrides = { seed: Number(values.seed), budget: Number(values.budget), dataDir: fashionMnistDir() };
const rows: Record<string, unknown>[] = [];
let teacher: string | undefined;
for (const w of values.weights!.split(',').map(Number)) {
  const dir = join(out, `latency-weight-${w}`);
  const r: SearchRecipe = { ...recipe, name: `${recipe.name}-lat${w}`, ...(teacher ? { teacher: { weights: teacher } } : {}), search: { ...recipe.search, latencyWeight: w } as SearchRecipe['search'], sweep: undefined };
  if (!existsSync(join(dir, 'result.json'))) await runSearchRecipe(r, { outDir: dir, resume: true, overrides });
  teacher ??= join(dir, 'teacher');
  const res = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  const arch = JSON.parse(readFileSync(join(dir, 'architecture.json'), 'utf8'));
  const layers = arch.relus.perLayer.filter((l: { kept: number }) => l.kept > 0).length;
  rows.push({
    latencyWeight: w, budget: res.budget, relus: res.relus, layersWithRelus: layers, of: arch.relus.perLayer.length, perLayer: arch.relus.perLayer,
    latencyMs: res.latency.totalMs, rounds: res.latency.rounds, commBytes: res.latency.commBytes, projectedTop1: res.projected.top1, finetunedTop1: res.finetuned.top1,
  });
  writeJsonAtomic(join(out, 'mask-latency.json'), { written: new Date().toISOString(), rows });
}
console.log('| λ_lat | ReLUs (budget) | layers with ReLUs | kept per layer | CrypTen WAN s | rounds | top-1 projected | top-1 finetuned |\n|---|---|---|---|---|---|---|---|');
for (const r of rows as { latencyWeight: number; relus: number; budget: number; layersWithRelus: number; of: number; perLayer: { kept: number }[]; latencyMs: number; rounds: number; projectedTop1: number; finetunedTop1: number }[]) {
  console.log(`| ${r.latencyWeight} | ${r.relus} (${r.budget}) | ${r.layersWithRelus} of ${r.of} | ${r.perLayer.map((l) => l.kept).join(' / ')} | ${(r.latencyMs / 1000).toFixed(3)} | ${r.rounds} | ${(100 * r.projectedTop1).toFixed(2)} | ${(100 * r.finetunedTop1).toFixed(2)} |`);
}
