import { join, resolve } from 'node:path';
import type { SearchRecipe } from '../search/recipe.js';
import { cellFinished, planCell, type PlanCell, type SweepPlan } from './plan.js';
import { runSearchRecipe, type RunSearchOptions } from './search.js';
import { teacherPhase } from './teacher.js';
import { lockRunDir } from './run-dir.js';

/** A cell that cannot run as planned whatever is retried (a missing dependency, a bad index): no retry helps. */
export class CellDependencyError extends Error {
  override name = 'CellDependencyError';
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

/**
 * Runs one cell of a plan in this process: a teacher is trained (or found finished), a search runs
 * after its finished teacher. A cell whose folder holds its result is skipped; one whose teacher is
 * missing fails with a {@link CellDependencyError} naming it. Interrupted cells resume from their
 * checkpoints; the run folder's lock keeps a second writer out (across hosts on shared storage).
 *
 * @example
 * ```ts
 * const { plan, dir } = readPlan('runs/study/plan.json');
 * await runCell(plan, dir, { index: 0 });
 * ```
 */
export async function runCell(plan: SweepPlan, planDir: string, which: { index?: number; id?: string; kind?: PlanCell['kind'] }, opts: Omit<RunSearchOptions, 'outDir' | 'resume' | 'overrides'> = {}): Promise<CellRun> {
  const cell = planCell(plan, which);
  const t0 = performance.now();
  if (cellFinished(planDir, cell)) return { cell, status: 'skipped', seconds: 0 };
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
  }
  return { cell, status: 'done', seconds: (performance.now() - t0) / 1e3 };
}
