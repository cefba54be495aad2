/**
 * `npm run bench:accuracy`: accuracy at small ReLU budgets under fixed protocols, one table.
 *
 * - LeNet-5 on Fashion-MNIST (Debian `dataset-fashion-mnist`): AutoReP at 1 %, 5 %, 20 %
 *   (`experiments/search-lenet5-fashion-mnist.json`).
 * - CIFAR ResNet-20 on a CIFAR-10 folder (the shared subset; `--cifar-dir` or `POLYNAS_CIFAR10_DIR`),
 *   the stem's ReLU counted and searchable, teacher 15 epochs: AutoReP at 1 %, 0 (all-polynomial),
 *   5 % and 20 % of all 188,416 ReLUs (`experiments/sweep-resnet20-cifar10-subset.json`); SNL at 5 %
 *   (pixel ReLU vs identity) and DARTS at 5 % (layer space, ReLU vs X2act: the projection keeps the
 *   largest set of whole layers that fits, so the exact count is what that granularity can meet).
 *
 * Every run is a run folder under `--out` (default `bench/results/accuracy`); a finished run is never
 * redone, so an interrupted benchmark resumes where it stopped. After each run the table is printed
 * and every row written, atomically, to `<out>/accuracy.json`. Runs go in seed order, LeNet first.
 *
 * `--only ablation-linear-target,ablation-pressure-control,ablation-x2-scale-0.1,ablation-no-variance-floor` runs the AutoReP 1 % point with one
 * change undone each (seed by seed, on the teacher of resnet20-autorep).
 *
 *   npm run bench:accuracy -- [--seeds 0,1,2] [--budgets 0.01,0] [--only lenet5-autorep,resnet20-autorep,resnet20-snl,resnet20-darts]
 *                             [--cifar-dir DIR] [--fmnist-dir DIR] [--out bench/results/accuracy]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSearchRecipe, parseSearchSpace, runSearchRecipe, runSweep, type SearchRecipe } from '../src/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { budgetDirName } from '../src/run/sweep.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '0,1,2' }, only: { type: 'string' }, budgets: { type: 'string' }, out: { type: 'string', default: join(root, 'bench/results/accuracy') },
    'cifar-dir': { type: 'string', default: process.env.POLYNAS_CIFAR10_DIR }, 'fmnist-dir': { type: 'string', default: process.env.POLYNAS_FASHION_MNIST_DIR },
  },
});
const out = resolve(values.out!);
const seeds = values.seeds!.split(',').map(Number);
const only = values.only?.split(',');
/** `--budgets`: run only these of each protocol's budgets. */
const keepBudgets = values.budgets?.split(',').map(Number);

/** One protocol: a shipped recipe, its budgets, and (SNL, DARTS) the search section and space that replace AutoReP's. */
interface Protocol {
  id: string;
  recipe: string;
  budgets: number[];
  dataDir?: string;
  /**
   * Runs as separate searches on the teacher of `teacherFrom` (a sweep protocol of the same seed): another
   * space (a file relative to `experiments/`, or inline) and search settings (merged into the recipe's).
   */
  variant?: { teacherFrom: string; space?: string | Record<string, unknown>; search: Record<string, unknown> };
}

/** The AutoReP 1 % point with one change undone each: where each change helped. */
const ablation = (id: string, search: Record<string, unknown>, space?: Record<string, unknown>): Protocol => ({
  id: `ablation-${id}`, recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.01], ...(cifar ? { dataDir: cifar } : {}),
  variant: { teacherFrom: 'resnet20-autorep', ...(space ? { space } : {}), search },
});
const R20_PIXEL = { name: 'resnet20-pixel', backbone: 'resnet20', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } };

const cifar = values['cifar-dir'];
/** Fashion-MNIST: the option, `$POLYNAS_FASHION_MNIST_DIR`, else the folder Debian's dataset-fashion-mnist installed (asked of dpkg). */
function fashionMnistDir(): string | undefined {
  if (values['fmnist-dir']) return values['fmnist-dir'];
  try {
    const file = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8' }).split('\n').find((f) => f.endsWith('train-images-idx3-ubyte.gz'));
    return file ? dirname(file) : undefined;
  } catch {
    return undefined;
  }
}
const fmnist = fashionMnistDir();
const PROTOCOLS: Protocol[] = [
  { id: 'lenet5-autorep', recipe: 'experiments/search-lenet5-fashion-mnist.json', budgets: [0.01, 0.05, 0.2], ...(fmnist ? { dataDir: fmnist } : {}) },
  { id: 'resnet20-autorep', recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.01, 0, 0.05, 0.2], ...(cifar ? { dataDir: cifar } : {}) },
  {
    id: 'resnet20-snl', recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.05], ...(cifar ? { dataDir: cifar } : {}),
    // SNL's own schedule runs for hundreds of epochs; in 6 its λ₀ would not reach a 5 % budget, so λ starts
    // at 1e-3 and grows from the second epoch (SNL's rule otherwise: ×1.1 on a stalled count, stop at B).
    variant: { teacherFrom: 'resnet20-autorep', space: '../search-spaces/resnet20-snl-pixel.json', search: { strategy: 'snl', budget: 0.05, epochs: 6, batchSize: 64, lambda: 1e-3, lambdaGrowthFrom: 1 } },
  },
  {
    // SNL with α's Adam rate at 1e-2: from 1 to below 0.01 in about 100 steps instead of 1,000 (run with --only).
    id: 'resnet20-snl-fast-alpha', recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.05], ...(cifar ? { dataDir: cifar } : {}),
    variant: { teacherFrom: 'resnet20-autorep', space: '../search-spaces/resnet20-snl-pixel.json', search: { strategy: 'snl', budget: 0.05, epochs: 6, batchSize: 64, lambda: 1e-3, lambdaGrowthFrom: 1, alphaLr: 0.01 } },
  },
  {
    id: 'resnet20-darts', recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.05], ...(cifar ? { dataDir: cifar } : {}),
    variant: { teacherFrom: 'resnet20-autorep', space: '../search-spaces/resnet20-layer.json', search: { strategy: 'darts', budget: 0.05, epochs: 3, batchSize: 64, reluWeight: 1 } },
  },
  {
    // DARTS with θ's Adam rate at 5e-2 (DARTS' 3e-4 moves θ by 0.07 in a 3-epoch search; run with --only).
    id: 'resnet20-darts-fast-arch', recipe: 'experiments/sweep-resnet20-cifar10-subset.json', budgets: [0.05], ...(cifar ? { dataDir: cifar } : {}),
    variant: { teacherFrom: 'resnet20-autorep', space: '../search-spaces/resnet20-layer.json', search: { strategy: 'darts', budget: 0.05, epochs: 3, batchSize: 64, reluWeight: 1, archLr: 0.05 } },
  },
  // Ablations (run with --only): the linear target schedule; the pressure controller instead of the offset;
  // AutoReP's x² scale 0.1; no variance floor (the DaPa fit before).
  ablation('linear-target', { targetSchedule: 'linear' }),
  ablation('pressure-control', { budgetControl: 'pressure', alphaSchedule: 'count' }),
  ablation('x2-scale-0.1', {}, { ...R20_PIXEL, activation: { ...R20_PIXEL.activation, poly: { squareScale: 0.1 } } }),
  ablation('no-variance-floor', {}, { ...R20_PIXEL, activation: { ...R20_PIXEL.activation, poly: { squareScale: 1, varianceFloor: 0 } } }),
];
const DEFAULT_PROTOCOLS = ['lenet5-autorep', 'resnet20-autorep', 'resnet20-snl', 'resnet20-darts'];

interface Row {
  protocol: string;
  seed: number;
  strategy: string;
  requested: number;
  budget: number | null;
  relus: number;
  countBeforeProjection: number;
  teacherTop1: number;
  projectedTop1: number;
  finetunedTop1: number;
  latencyMs: number | null;
  searchSeconds: number;
  finetuneSeconds: number;
  backend: string;
  dir: string;
}

function rowOf(p: Protocol, seed: number, requested: number, dir: string): Row | undefined {
  const file = join(dir, 'result.json');
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  return {
    protocol: p.id, seed, strategy: r.strategy, requested, budget: r.budget ?? null, relus: r.relus, countBeforeProjection: r.countBeforeProjection,
    teacherTop1: r.teacher.top1, projectedTop1: r.projected.top1, finetunedTop1: r.finetuned.top1, latencyMs: r.latency?.totalMs ?? null,
    searchSeconds: r.searchSeconds, finetuneSeconds: r.finetuneSeconds, backend: meta.backend, dir,
  };
}

/** Rows of earlier invocations (other seeds or protocols) are kept; a row run again replaces its old one. */
const file = join(out, 'accuracy.json');
const rows: Row[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }).rows : [];
const pct = (v: number) => `${(100 * v).toFixed(2)}`;

const HEAD = ['protocol', 'seed', 'budget', 'exact count', 'before proj.', 'teacher', 'projected', 'finetuned', 'CrypTen WAN s', 'search s', 'finetune s', 'backend'];

/** The table of `shown` rows (default all), as markdown. */
function printTable(shown: Row[] = rows, head = true): void {
  const lines = shown.map((r) => [
    r.protocol, String(r.seed), `${r.requested < 1 ? `${r.requested * 100} %` : r.requested} = ${r.budget ?? '-'}`, String(r.relus), String(r.countBeforeProjection),
    pct(r.teacherTop1), pct(r.projectedTop1), pct(r.finetunedTop1), r.latencyMs === null ? '-' : (r.latencyMs / 1000).toFixed(2),
    r.searchSeconds.toFixed(0), r.finetuneSeconds.toFixed(0), r.backend,
  ]);
  if (head) console.log(`| ${HEAD.join(' | ')} |\n|${HEAD.map(() => '---').join('|')}|`);
  console.log(lines.map((l) => `| ${l.join(' | ')} |`).join('\n'));
}

let printed = 0;
function record(row: Row | undefined): void {
  if (!row) return;
  const same = rows.findIndex((r) => r.protocol === row.protocol && r.seed === row.seed && r.requested === row.requested);
  if (same >= 0) rows.splice(same, 1);
  rows.push(row);
  writeJsonAtomic(file, { written: new Date().toISOString(), rows });
  printTable([row], printed++ === 0);
}

async function runProtocol(full: Protocol, seed: number): Promise<void> {
  const p = keepBudgets ? { ...full, budgets: full.budgets.filter((b) => keepBudgets.includes(b)) } : full;
  if (!p.budgets.length) return;
  const recipe: SearchRecipe = loadSearchRecipe(join(root, p.recipe));
  const base = join(out, `${p.id}-seed${seed}`);
  const overrides = { seed, ...(p.dataDir ? { dataDir: p.dataDir } : {}) };
  if (!p.variant) {
    await runSweep(recipe, { outDir: base, overrides: { ...overrides, budgets: p.budgets } });
    for (const b of p.budgets) record(rowOf(p, seed, b, join(base, budgetDirName(b))));
    return;
  }
  const teacher = join(out, `${p.variant.teacherFrom}-seed${seed}`, 'teacher');
  if (!existsSync(join(teacher, 'model.weights.bin'))) throw new Error(`${p.id}: no teacher at ${teacher}; run ${p.variant.teacherFrom} for seed ${seed} first`);
  const space = p.variant.space === undefined ? recipe.space : typeof p.variant.space === 'string' ? resolve(root, 'experiments', p.variant.space) : parseSearchSpace(p.variant.space);
  const variant: SearchRecipe = {
    ...recipe, name: `${recipe.name}-${p.id}`, teacher: { weights: teacher }, space: space as SearchRecipe['space'],
    search: ('strategy' in p.variant.search ? p.variant.search : { ...recipe.search, ...p.variant.search }) as unknown as SearchRecipe['search'], sweep: undefined,
  };
  for (const b of p.budgets) {
    const dir = join(base, budgetDirName(b));
    if (!existsSync(join(dir, 'result.json'))) await runSearchRecipe(variant, { outDir: dir, resume: true, overrides: { ...overrides, budget: b } });
    record(rowOf(p, seed, b, dir));
  }
}

for (const seed of seeds) {
  for (const p of PROTOCOLS) {
    if (!(only ?? DEFAULT_PROTOCOLS).includes(p.id)) continue;
    console.log(`\n== ${p.id}, seed ${seed} ==`);
    await runProtocol(p, seed);
  }
}
console.log('\nAll rows:');
printTable();
