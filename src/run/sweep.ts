import { basename, join } from 'node:path';
import { readJsonAs } from '../io/json.js';
import { renderCurvePlots, readCurveCsv } from '../report/plot.js';
import { sweepRow } from '../report/summary.js';
import { SearchResultFileSchema, type SweepRow } from '../spec/result.js';
import { normalizeSearchRecipe, type SearchRecipe } from '../search/recipe.js';
import { loadSearchSpace } from '../spec/space.js';
import { lockRunDir, openRunDir } from './run-dir.js';
import { searchIdentity, type RunSearchOptions } from './search.js';
import { claimRunDir, runIdentity } from './identity.js';
import { selectBackend } from '../engine/backend.js';
import { runCell, searchCellDone } from './cell.js';
import { loadLatencyTable } from '../latency/tables.js';
import { collectSweep, writeSweepCsv } from './collect.js';

export { writeSweepCsv };
import { planSweep, writePlan, type SweepPlan } from './plan.js';

/** Options of {@link runSweep}. */
export interface SweepOptions extends Omit<RunSearchOptions, 'outDir' | 'resume'> {
  outDir: string;
  /** Reference curves (CSV files, see `readCurveCsv`) drawn beside the sweep in the plots. */
  references?: string[];
  /** Called when a budget starts (`done` = restored from an earlier run); `cell` is its folder in the study. */
  onBudget?(e: { index: number; count: number; budget: number; done: boolean; cell?: string }): void;
  /** Seeds (one teacher each; default the recipe's) and backbones with their spaces (default the recipe's). */
  seeds?: number[];
  backbones?: { name: string; space: string }[];
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
 * ```ts runnable
 * budgetDirName(0.05); // 'budget-0.05'
 * ```
 */
export function budgetDirName(budget: number): string {
  return `budget-${budget}`;
}

/**
 * Runs a search recipe at several ReLU budgets (the recipe's `sweep.budgets`, or `overrides.budgets`),
 * training (or loading) one teacher shared by all of them, and writes `sweep.csv` (one row per
 * finished budget, rewritten atomically after each), the plots and `summary.md`. Resumable: a budget
 * whose run folder has a `result.json` is not searched again, and an interrupted budget resumes from
 * its own checkpoints.
 *
 * @example
 * ```ts
 * const recipe = loadSearchRecipe('experiments/sweep-resnet20-cifar10-subset.json');
 * const { rows } = await runSweep(recipe, { outDir: 'runs/sweep', overrides: { budgets: [1000, 5000, 20000, 50000] } });
 * ```
 */
export async function runSweep(recipe: SearchRecipe, opts: SweepOptions): Promise<SweepResult> {
  const { budget: _b, ...overrides } = opts.overrides ?? {};
  const space = typeof recipe.space === 'string' ? loadSearchSpace(recipe.space) : recipe.space;
  const normalized = normalizeSearchRecipe(recipe, space, overrides);
  const budgets = normalized.sweep?.budgets;
  if (!budgets?.length) throw new Error(`recipe '${recipe.name}': no budgets to sweep (a "sweep": { "budgets": [...] } section, or overrides.budgets)`);
  const release = lockRunDir(opts.outDir);
  const notice = opts.hooks?.notice;
  let plan: SweepPlan;
  let backend: string;
  try {
    // The study as a plan: every budget of every backbone checked against its exact ReLU count before
    // a teacher trains. The folder must hold results of these settings: one sweep's identity is the
    // recipe without its budgets; a study of several seeds or backbones is its cells' ids.
    plan = await planSweep(normalized, { budgets, ...(opts.seeds ? { seeds: opts.seeds } : {}), ...(opts.backbones ? { backbones: opts.backbones } : {}), overrides, ...(notice ? { notice } : {}) }, opts.source ?? recipe.name);
    backend = (await selectBackend(normalized.backend)).backend;
    const single = plan.seeds.length === 1 && plan.backbones.length === 1;
    const id = single ? searchIdentity({ ...normalized, seed: plan.seeds[0]!, search: { ...normalized.search, budget: undefined } }, space, loadLatencyTable(normalized.latency.table), backend) : runIdentity({ cells: plan.cells.map((c) => c.id), backend });
    claimRunDir(opts.outDir, id, { ...(opts.fresh ? { fresh: true } : {}), phaseFiles: ['sweep.csv', 'cells.csv', 'plots', 'summary.md', 'recipe.json', 'plan.json'], ...(notice ? { notice } : {}) });
  } catch (e) {
    release();
    throw e;
  }
  const run = openRunDir(opts.outDir);
  try {
    run.writeJson('recipe.json', normalized);
    // The same cells `polynas sweep cell` and the queue's workers run, in the same folders, in order.
    writePlan(opts.outDir, plan);
    const collect = (plots: boolean) => collectSweep(plan, opts.outDir, { plots, ...(opts.references ? { references: opts.references } : {}) });
    for (const cell of plan.cells) {
      if (cell.kind === 'teacher') {
        await runCell(plan, opts.outDir, { id: cell.id }, opts);
        continue;
      }
      const dir = join(opts.outDir, cell.dir);
      // The check `polynas sweep cell` and the queue's workers make: a finished search of another plan cell is refused.
      const done = searchCellDone(opts.outDir, cell, { ...(opts.fresh ? { fresh: true } : {}), ...(notice ? { notice } : {}) });
      opts.onBudget?.({ index: budgets.indexOf(cell.budget!), count: budgets.length, budget: cell.budget!, done, cell: cell.dir });
      if (!done) await runCell(plan, opts.outDir, { id: cell.id }, opts);
      run.log({ type: 'sweep-budget', budget: cell.budget, cell: cell.id, dir: cell.dir, done, row: readSweepRow(cell.budget!, dir) });
      await collect(false);
    }
    const c = await collect(true);
    return { rows: c.rows.map((r) => { const { backbone: _b, ...row } = r as SweepRow & { backbone: string }; return row; }), csv: c.csv, plots: c.plots };
  } finally {
    release();
  }
}

/** A finished budget folder's `result.json` (validated) as a `sweep.csv` row. */
export function readSweepRow(spec: number, dir: string): SweepRow {
  // run_dir is the budget folder's name inside the sweep folder, however --out was written.
  return sweepRow(spec, readJsonAs(join(dir, 'result.json'), SearchResultFileSchema, 'search result'), basename(dir));
}



/** Renders a sweep folder's `sweep.csv` (and reference CSVs) into `plots/`; returns the files. */
export async function renderSweepPlots(dir: string, recipe: Pick<SearchRecipe, 'name' | 'backbone' | 'search'>, references: readonly string[] = []): Promise<string[]> {
  const points = [...readCurveCsv(join(dir, 'sweep.csv')), ...references.flatMap((f) => readCurveCsv(f, f))];
  const { files } = await renderCurvePlots(points, { outDir: join(dir, 'plots'), title: `${recipe.name}: ${recipe.backbone.name}, ${recipe.search.strategy}` });
  return files;
}
