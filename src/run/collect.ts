import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../io/atomic.js';
import { readJsonAs } from '../io/json.js';
import { renderCurvePlots, readCurveCsv } from '../report/plot.js';
import { summarizeSweep, sweepRow } from '../report/summary.js';
import { SearchResultFileSchema, type SweepRow } from '../spec/result.js';
import { cellFinished, type PlanCell, type SweepPlan } from './plan.js';

/** One row per budget of several seeds: means of the numbers, their sample standard deviations, and how many seeds finished. */
export type SeedRow = Omit<SweepRow, 'seed'> & { seed: ''; backbone: string; seeds: number; top1_sd: number | ''; top5_sd: number | ''; relus_sd: number | ''; latency_ms_sd: number | '' };

/** What {@link collectSweep} merged and what it could not. */
export interface Collected {
  rows: SweepRow[];
  /** Per budget (and backbone) over the seeds, when the plan has several seeds or backbones. */
  aggregated?: SeedRow[];
  csv: string;
  plots: string[];
  /** Cells without a result: `missing` (never finished) with their folders. */
  missing: PlanCell[];
  /** The `summary.md` written. */
  summary: string;
}

/** Writes `sweep.csv` (or a study's `cells.csv`) atomically, the columns those of the first row. */
export function writeSweepCsv(path: string, rows: readonly object[]): void {
  writeFileAtomic(path, stringify(rows as Record<string, unknown>[], { header: true, columns: Object.keys(rows[0]!) }));
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => (v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)) : 0);
const round = (x: number, d: number) => Number(x.toFixed(d));

function aggregate(plan: SweepPlan, rows: (SweepRow & { backbone: string })[]): SeedRow[] {
  const out: SeedRow[] = [];
  for (const b of plan.backbones)
    for (const budget of plan.budgets) {
      const g = rows.filter((r) => r.backbone === b.name && r.budget_spec === budget);
      if (!g.length) continue;
      const num = (k: keyof SweepRow) => g.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
      const m = (k: keyof SweepRow, d: number): number | '' => (num(k).length ? round(mean(num(k)), d) : '');
      const s = (k: keyof SweepRow, d: number): number | '' => (num(k).length ? round(sd(num(k)), d) : '');
      out.push({
        ...g[0]!, budget: m('budget', 1), relus: m('relus', 1) as number, relus_before_projection: m('relus_before_projection', 1) as number, top1: m('top1', 5) as number, top5: m('top5', 5) as number,
        projected_top1: m('projected_top1', 5) as number, teacher_top1: m('teacher_top1', 5) as number, latency_ms: m('latency_ms', 3), latency: m('latency', 4), comm_mib: m('comm_mib', 3), rounds: m('rounds', 2),
        search_s: m('search_s', 1) as number, finetune_s: m('finetune_s', 1) as number, seed: '', run_dir: g.map((r) => r.run_dir).join(' '),
        backbone: b.name, seeds: g.length, top1_sd: s('top1', 5), top5_sd: s('top5', 5), relus_sd: s('relus', 1), latency_ms_sd: s('latency_ms', 3),
      });
    }
  return out;
}

/**
 * Merges every finished search cell of a plan into the study folder: with one backbone and one seed,
 * `sweep.csv` (one row per budget, as `polynas sweep` writes it); with more, `cells.csv` (one row per
 * cell) and `sweep.csv` with one row per backbone and budget (means over the seeds, `*_sd` sample
 * standard deviations, `seeds` finished), error bars in the plots. Also the plots and `summary.md`.
 * Cells without a result are listed, not guessed.
 *
 * @example
 * ```ts
 * const { plan, dir } = readPlan('runs/study/plan.json');
 * const { missing } = await collectSweep(plan, dir);
 * ```
 */
export async function collectSweep(plan: SweepPlan, dir: string, opts: { references?: string[]; plots?: boolean } = {}): Promise<Collected> {
  const searches = plan.cells.filter((c) => c.kind === 'search');
  const missing = plan.cells.filter((c) => !cellFinished(dir, c));
  const rows = searches.filter((c) => existsSync(join(dir, c.dir, 'result.json'))).map((c) => ({ ...sweepRow(c.budget!, readJsonAs(join(dir, c.dir, 'result.json'), SearchResultFileSchema, 'search result'), c.dir), backbone: c.backbone }));
  if (!rows.length) throw new Error(`${dir}: no cell of plan '${plan.name}' has finished yet (${missing.length} missing)`);
  const csv = join(dir, 'sweep.csv');
  const single = plan.seeds.length === 1 && plan.backbones.length === 1;
  let aggregated: SeedRow[] | undefined;
  if (single) writeSweepCsv(csv, rows.map(({ backbone: _b, ...r }) => r));
  else {
    writeSweepCsv(join(dir, 'cells.csv'), rows);
    aggregated = aggregate(plan, rows);
    writeSweepCsv(csv, aggregated);
  }
  const first = searches[0]!.recipe;
  // A sweep in progress rewrites its CSVs after every budget and renders the plots once, at the end.
  let files: string[] = [];
  if (opts.plots ?? true) {
    const points = [...readCurveCsv(csv), ...(opts.references ?? []).flatMap((f) => readCurveCsv(f, f))];
    files = (await renderCurvePlots(points, { outDir: join(dir, 'plots'), title: `${plan.name}: ${plan.backbones.map((b) => b.name).join(', ')}, ${first.search.strategy}${single ? '' : `, ${plan.seeds.length} seeds (mean ± sd)`}` })).files;
  }
  const missingSearches = missing.filter((c) => c.kind === 'search').length;
  const summary = summarizeSweep(plan.name, single ? rows : (aggregated as unknown as SweepRow[]), missingSearches);
  writeFileAtomic(join(dir, 'summary.md'), summary);
  return { rows, ...(aggregated ? { aggregated } : {}), csv, plots: files, missing, summary };
}
