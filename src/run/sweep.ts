import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { BackendChoice } from '../engine/backend.js';
import { runTraining } from './train.js';
import type { TrainRecipe } from '../spec/recipe.js';
import { writeFileAtomic } from '../io/atomic.js';
import { lockRunDir, openRunDir } from './run-dir.js';
import { renderCurvePlots, readCurveCsv } from '../report/plot.js';
import { runSearchRecipe, type LatencySummary, type RunSearchOptions } from './search.js';
import type { SearchRecipe } from '../search/recipe.js';

/** One row of `sweep.csv`: a finished search at one budget. */
export interface SweepRow {
  /** The budget as requested (a count, or a fraction of the searchable ReLUs). */
  budget_spec: number;
  /** The absolute budget B. */
  budget: number | '';
  /** Exported ReLU count (≤ B). */
  relus: number;
  relus_before_projection: number;
  top1: number;
  top5: number;
  projected_top1: number;
  teacher_top1: number;
  latency_table: string;
  latency_network: string;
  /** Predicted 2PC latency in ms (empty when the table has no time model). */
  latency_ms: number | '';
  /** Predicted latency in the table's own unit (`latency_unit`). */
  latency: number | '';
  latency_unit: string;
  comm_mib: number | '';
  rounds: number | '';
  search_s: number;
  finetune_s: number;
  strategy: string;
  seed: number;
  run_dir: string;
}

/** Options of {@link runSweep}. */
export interface SweepOptions extends Omit<RunSearchOptions, 'budget' | 'outDir'> {
  outDir: string;
  /** Budgets to search (default: the recipe's `sweep.budgets`). */
  budgets?: number[];
  /** Reference curves (CSV files, see `readCurveCsv`) drawn beside the sweep in the plots. */
  references?: string[];
  /** Called when a budget starts (`done` = restored from an earlier run). */
  onBudget?(e: { index: number; count: number; budget: number; done: boolean }): void;
}

/** What {@link runSweep} produced. */
export interface SweepResult {
  rows: SweepRow[];
  csv: string;
  plots: string[];
}

/**
 * The folder name of a budget inside a sweep folder (`budget-12900`, `budget-0.05`).
 *
 * @example
 * ```ts
 * budgetDirName(0.05); // 'budget-0.05'
 * ```
 */
export function budgetDirName(budget: number): string {
  return `budget-${budget}`;
}

/**
 * Runs a search recipe at several ReLU budgets, training (or loading) one teacher shared by all of
 * them, and writes `sweep.csv` (one row per finished budget, rewritten atomically after each),
 * `plots/relus-vs-accuracy.{svg,png}`, `plots/latency-vs-accuracy.{svg,png}` and `summary.md`.
 * Resumable: a budget whose run folder has a `result.json` is not searched again, and an
 * interrupted budget resumes from its own checkpoints.
 *
 * @example
 * ```ts
 * const recipe = loadSearchRecipe('experiments/sweep-resnet20-cifar10-subset.json');
 * const { rows } = await runSweep(recipe, { outDir: 'runs/sweep', budgets: [1000, 5000, 20000, 50000] });
 * ```
 */
export async function runSweep(recipe: SearchRecipe, opts: SweepOptions): Promise<SweepResult> {
  const budgets = opts.budgets ?? recipe.sweep?.budgets;
  if (!budgets?.length) throw new Error(`recipe '${recipe.name}': no budgets to sweep (give --budgets or a "sweep": { "budgets": [...] } section)`);
  const release = lockRunDir(opts.outDir);
  const run = openRunDir(opts.outDir);
  try {
    run.writeJson('recipe.json', { ...recipe, sweep: { budgets } });
    // One teacher for every budget.
    let teacherWeights: string;
    if ('weights' in recipe.teacher) teacherWeights = recipe.teacher.weights;
    else {
      teacherWeights = join(opts.outDir, 'teacher');
      if (!existsSync(join(teacherWeights, 'model.weights.bin'))) {
        opts.hooks?.phase?.('teacher');
        const trainRecipe: TrainRecipe = { name: `${recipe.name}-teacher`, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train: recipe.teacher.train };
        await runTraining(trainRecipe, { outDir: teacherWeights, resume: true, ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.hooks?.train ? { hooks: opts.hooks.train } : {}), ...(opts.download ? { download: opts.download } : {}) });
      }
    }
    const shared: SearchRecipe = { ...recipe, teacher: { weights: teacherWeights } };
    const rows: SweepRow[] = [];
    const csvPath = run.path('sweep.csv');
    for (const [index, spec] of budgets.entries()) {
      const dir = join(opts.outDir, budgetDirName(spec));
      const done = existsSync(join(dir, 'result.json'));
      opts.onBudget?.({ index, count: budgets.length, budget: spec, done });
      if (!done) {
        await runSearchRecipe(shared, {
          ...opts, outDir: dir, budget: spec, resume: true,
          ...(opts.backend ? { backend: opts.backend as BackendChoice } : {}),
        });
      }
      rows.push(sweepRow(spec, dir));
      writeSweepCsv(csvPath, rows);
      run.log({ type: 'sweep-budget', budget: spec, done, row: rows[rows.length - 1] });
    }
    const files = await renderSweepPlots(opts.outDir, recipe, opts.references);
    run.writeText('summary.md', sweepSummary(recipe.name, rows));
    return { rows, csv: csvPath, plots: files };
  } finally {
    release();
  }
}

/** Writes `sweep.csv` atomically. */
export function writeSweepCsv(path: string, rows: readonly SweepRow[]): void {
  writeFileAtomic(path, stringify(rows as SweepRow[], { header: true, columns: Object.keys(rows[0]!) }));
}

/** Renders a sweep folder's `sweep.csv` (and reference CSVs) into `plots/`; returns the files. */
export async function renderSweepPlots(dir: string, recipe: Pick<SearchRecipe, 'name' | 'backbone' | 'search'>, references: readonly string[] = []): Promise<string[]> {
  const points = [...readCurveCsv(join(dir, 'sweep.csv')), ...references.flatMap((f) => readCurveCsv(f, f))];
  const { files } = await renderCurvePlots(points, { outDir: join(dir, 'plots'), title: `${recipe.name}: ${recipe.backbone.name}, ${recipe.search.strategy}` });
  return files;
}

/**
 * Reads a finished budget's `result.json` into a CSV row.
 *
 * @example
 * ```ts
 * const row = sweepRow(0.05, 'runs/sweep/budget-0.05');
 * row.relus; // exported ReLU count
 * ```
 */
export function sweepRow(spec: number, dir: string): SweepRow {
  const file = join(dir, 'result.json');
  const r = JSON.parse(readFileSync(file, 'utf8')) as {
    budget?: number; relus: number; countBeforeProjection: number; teacher: { top1: number }; projected: { top1: number };
    finetuned: { top1: number; top5: number }; searchSeconds: number; finetuneSeconds: number; strategy: string; seed: number; latency?: LatencySummary;
  };
  const l = r.latency;
  const round = (x: number, d: number) => Number(x.toFixed(d));
  return {
    budget_spec: spec,
    budget: r.budget ?? '',
    relus: r.relus,
    relus_before_projection: r.countBeforeProjection,
    top1: round(r.finetuned.top1, 5),
    top5: round(r.finetuned.top5, 5),
    projected_top1: round(r.projected.top1, 5),
    teacher_top1: round(r.teacher.top1, 5),
    latency_table: l?.table ?? '',
    latency_network: l?.network ?? '',
    latency_ms: l?.totalMs !== undefined ? round(l.totalMs, 3) : '',
    latency: l ? round(l.total, 4) : '',
    latency_unit: l?.unit ?? '',
    comm_mib: l?.commBytes !== undefined ? round(l.commBytes / 2 ** 20, 3) : '',
    rounds: l?.rounds ?? '',
    search_s: round(r.searchSeconds, 1),
    finetune_s: round(r.finetuneSeconds, 1),
    strategy: r.strategy,
    seed: r.seed,
    run_dir: dir,
  };
}

/**
 * The Markdown table of a sweep.
 *
 * @example
 * ```ts
 * writeFileSync('summary.md', sweepSummary('my sweep', rows));
 * ```
 */
export function sweepSummary(name: string, rows: readonly SweepRow[]): string {
  const pct = (x: number) => (x * 100).toFixed(2);
  const lines = [
    `# Sweep ${name}`, '',
    `Teacher (all-ReLU) top-1: ${rows[0] ? pct(rows[0].teacher_top1) : '–'} %. Strategy ${rows[0]?.strategy ?? '–'}, seed ${rows[0]?.seed ?? '–'}.`, '',
    '| budget | ReLUs before projection | exported ReLUs | top-1 after projection (%) | top-1 finetuned (%) | predicted latency (ms) | communication (MiB) | search (s) | finetune (s) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.budget === '' ? '–' : r.budget} | ${r.relus_before_projection} | ${r.relus} | ${pct(r.projected_top1)} | ${pct(r.top1)} | ${r.latency_ms === '' ? '–' : r.latency_ms.toFixed(1)} | ${r.comm_mib === '' ? '–' : r.comm_mib.toFixed(1)} | ${r.search_s.toFixed(0)} | ${r.finetune_s.toFixed(0)} |`),
    '', 'Plots: `plots/relus-vs-accuracy.png`, `plots/latency-vs-accuracy.png`. Data: `sweep.csv`.', '',
  ];
  return lines.join('\n');
}
