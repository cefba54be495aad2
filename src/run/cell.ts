import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonAs } from '../io/json.js';
import type { SearchRecipe } from '../search/recipe.js';
import { changedSettings, RunSettingsChangedError } from './identity.js';
import { cellFinished, decisiveRecipe, planCell, type PlanCell, type SweepPlan } from './plan.js';
import { runSearchRecipe, type RunSearchOptions } from './search.js';
import { teacherPhase } from './teacher.js';
import { lockRunDir } from './run-dir.js';

/** A cell that cannot run as planned whatever is retried (a missing dependency, a bad index): no retry helps. */
export class CellDependencyError extends Error {
  override name = 'CellDependencyError';
  readonly retryable = false;
}

/**
 * The array index of this process's cell: `--index`, else `JOB_COMPLETION_INDEX` (a Kubernetes
 * Indexed Job), else `SLURM_ARRAY_TASK_ID` (a Slurm array). A bad or missing value is an error
 * naming where it came from.
 */
export function cellIndex(given?: number, env: NodeJS.ProcessEnv = process.env): number {
  const from: [string, string | undefined][] = [['--index', given === undefined ? undefined : String(given)], ['JOB_COMPLETION_INDEX', env.JOB_COMPLETION_INDEX], ['SLURM_ARRAY_TASK_ID', env.SLURM_ARRAY_TASK_ID]];
  const hit = from.find(([, v]) => v !== undefined && v !== '');
  if (!hit) throw new Error('sweep cell: which cell? give --index, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID)');
  const i = Number(hit[1]);
  if (!Number.isInteger(i) || i < 0) throw new Error(`sweep cell: ${hit[0]} is '${hit[1]}', not a cell index (0, 1, 2, …)`);
  return i;
}

/** What running a cell did. */
export interface CellRun {
  cell: PlanCell;
  /** `skipped`: its folder already held the result. */
  status: 'done' | 'skipped';
  seconds: number;
}

/** The search recipe of a cell with its teacher's folder filled in (absolute, where this process sees the study). */
export function cellRecipe(plan: SweepPlan, planDir: string, cell: PlanCell): SearchRecipe {
  if (!cell.dependsOn) return cell.recipe;
  const teacher = plan.cells.find((c) => c.id === cell.dependsOn);
  if (!teacher) throw new CellDependencyError(`cell ${cell.id} (${cell.dir}) depends on ${cell.dependsOn}, which is not in the plan`);
  if (!cellFinished(planDir, teacher)) throw new CellDependencyError(`cell ${cell.id} (${cell.dir}) needs its teacher, cell ${teacher.id} (${teacher.dir}), which has not finished: run it first (polynas sweep cell --plan … --index ${plan.cells.indexOf(teacher)})`);
  return { ...cell.recipe, teacher: { weights: resolve(planDir, teacher.dir) } };
}

/** The record in a search cell's folder of the plan cell its result answers (written when the search finishes). */
export const CELL_RECORD = 'cell.json';

/**
 * Whether a search cell's folder holds a finished search of this plan cell: its result and a record
 * ({@link CELL_RECORD}) of the same cell id, which hashes what decides the result (the recipe without
 * names and paths, the space and latency table by content, the teacher cell). It depends on nothing
 * of the machine that checks (data present or not, backend available). A finished search of another
 * cell is a {@link RunSettingsChangedError} naming the change (with `fresh`: not finished, so it is
 * searched again); one finished without a record is kept with a notice.
 */
export function searchCellDone(planDir: string, cell: PlanCell, opts: { fresh?: boolean; notice?: (text: string) => void } = {}): boolean {
  const dir = join(planDir, cell.dir);
  if (!existsSync(join(dir, 'result.json'))) return false;
  const file = join(dir, CELL_RECORD);
  if (!existsSync(file)) {
    opts.notice?.(`${dir}: finished without a record of its plan cell; kept without checking its settings`);
    return true;
  }
  const done = readJsonAs(file, CellRecordSchema, 'plan cell record');
  if (done.id === cell.id) return true;
  if (opts.fresh) return false;
  const changed = changedSettings({ recipe: done.recipe }, { recipe: decisiveRecipe(cell.recipe) });
  throw new RunSettingsChangedError(dir, changed.length ? changed : [`the search space or latency table (plan cell ${done.id} → ${cell.id})`]);
}

const CellRecordSchema = z.object({ id: z.string(), recipe: z.record(z.string(), z.unknown()) });

/**
 * Runs one cell of a plan in this process: a teacher is trained (or found finished), a search runs
 * after its finished teacher. A cell whose folder holds its result is skipped (a search's only if the
 * result is of the cell's settings: {@link searchCellDone}); one whose teacher is missing fails with
 * a {@link CellDependencyError} naming it. A finished search records its plan cell ({@link CELL_RECORD}). Interrupted cells resume from their checkpoints; the run
 * folder's lock keeps a second writer out (across hosts on shared storage).
 *
 * @example
 * ```ts
 * const { plan, dir } = readPlan('runs/study/plan.json');
 * await runCell(plan, dir, { index: 0 });
 * ```
 */
export async function runCell(
  plan: SweepPlan,
  planDir: string,
  which: { index?: number; id?: string; kind?: PlanCell['kind'] },
  opts: Omit<RunSearchOptions, 'outDir' | 'resume' | 'overrides'> = {},
): Promise<CellRun> {
  const cell = planCell(plan, which);
  const t0 = performance.now();
  const notice = opts.hooks?.notice;
  const finished = cell.kind === 'search' ? searchCellDone(planDir, cell, { ...(opts.fresh ? { fresh: true } : {}), ...(notice ? { notice } : {}) }) : cellFinished(planDir, cell);
  if (finished) return { cell, status: 'skipped', seconds: 0 };
  const dir = join(planDir, cell.dir);
  if (cell.kind === 'teacher') {
    const release = lockRunDir(dir);
    try {
      const t = await teacherPhase(cell.recipe, {
        dir, backend: cell.recipe.backend, ...(opts.fresh ? { fresh: true } : {}), ...(opts.hooks?.notice ? { notice: opts.hooks.notice } : {}),
        ...(opts.hooks?.phase ? { phase: opts.hooks.phase } : {}), ...(opts.hooks?.train ? { hooks: opts.hooks.train } : {}), ...(opts.download ? { download: opts.download } : {}),
      });
      t.model.dispose();
    } finally {
      release();
    }
  } else {
    await runSearchRecipe(cellRecipe(plan, planDir, cell), { ...opts, outDir: dir, resume: true, source: opts.source ?? `${plan.name}, cell ${cell.id} (${cell.dir})` });
    writeJsonAtomic(join(dir, CELL_RECORD), { id: cell.id, recipe: decisiveRecipe(cell.recipe) });
  }
  return { cell, status: 'done', seconds: (performance.now() - t0) / 1e3 };
}
