import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonAs } from '../io/json.js';
import { normalizeSearchRecipe, type Overrides, type SearchRecipe } from '../search/recipe.js';
import { loadSearchSpace, type SearchSpace } from '../spec/space.js';
import { sha256Of, teacherIdentity } from './identity.js';
import { preflightSearch } from './preflight.js';

/**
 * One unit of work of a sweep: a teacher (one per backbone × seed) or a search at one budget. Its id
 * is a hash of what decides its result (the normalized cell recipe without names or paths, the
 * space's contents, the latency table's contents, and for a search its teacher cell's id), so the
 * same study planned twice, anywhere, has the same ids.
 */
export interface PlanCell {
  id: string;
  kind: 'teacher' | 'search';
  /** The cell's run folder, relative to the plan's folder. */
  dir: string;
  backbone: string;
  seed: number;
  /** The budget as given (a count or a fraction); search cells only. */
  budget?: number;
  /** The teacher cell a search starts from (absent when the recipe names teacher weights). */
  dependsOn?: string;
  /** The cell's normalized recipe (a search's teacher weights are filled in from `dependsOn` when it runs). */
  recipe: SearchRecipe;
}

/** A sweep as data: every cell with its folder and dependency, written as `plan.json`. */
export interface SweepPlan {
  format: 'polynas-sweep-plan';
  version: 1;
  name: string;
  budgets: number[];
  seeds: number[];
  backbones: { name: string; space: string | SearchSpace }[];
  cells: PlanCell[];
}

const PlanFileSchema = z.looseObject({
  format: z.literal('polynas-sweep-plan'),
  version: z.literal(1),
  name: z.string(),
  cells: z.array(z.looseObject({ id: z.string().regex(/^[0-9a-f]{24}$/), kind: z.enum(['teacher', 'search']), dir: z.string().min(1), recipe: z.looseObject({}) })).min(1),
});

/** What the study varies beyond the recipe: budgets, seeds, and backbones each with its search space. */
export interface PlanAxes {
  budgets?: number[];
  seeds?: number[];
  backbones?: { name: string; space: string }[];
  /**
   * Command-line overrides (data folder, backend) applied to every cell; their `budget`, `budgets`
   * and `seed` are the plan's axes, given above, and are not read here.
   */
  overrides?: Overrides;
  /** Receives the preflight's notes (e.g. operators a latency table does not price). */
  notice?: (text: string) => void;
}

/**
 * A cell recipe without what does not decide its result (names, paths, sweep lists, records of
 * overrides); teacher weights given by path enter by their file's hash.
 */
export function decisiveRecipe(r: SearchRecipe): Record<string, unknown> {
  const { name: _n, description: _d, $schema: _s, overrides: _o, resolved: _r, sweep: _w, dataset, teacher, ...rest } = r;
  const { dir: _dir, download: _dl, ...data } = dataset;
  return { ...rest, dataset: data, teacher: teacherIdentity(teacher) };
}

function cellId(kind: PlanCell['kind'], recipe: SearchRecipe, space: SearchSpace, table: string, teacher?: string): string {
  const r = decisiveRecipe(recipe);
  if (kind === 'teacher') delete (r.search as Record<string, unknown> | undefined)?.budget;
  return sha256Of({ kind, recipe: kind === 'teacher' ? { seed: r.seed, backend: r.backend, dataset: r.dataset, backbone: r.backbone, teacher: r.teacher } : r, space: kind === 'search' ? space : undefined, table: kind === 'search' ? table : undefined, teacher }).slice(0, 24);
}

/**
 * Plans a study: for each backbone (with its space) and seed, one teacher cell (unless the recipe
 * names teacher weights) and one search cell per budget after it. Every budget is checked against
 * the exact ReLU count of its backbone before anything runs. One backbone and one seed keep the
 * layout of `polynas sweep` (`teacher/`, `budget-<b>/`); more add `<backbone>/` and `seed-<s>/` levels.
 *
 * @example
 * ```ts
 * const plan = await planSweep(loadSearchRecipe('experiments/search-lenet5-mnist.json'), { budgets: [100, 1000], seeds: [0, 1] });
 * ```
 */
export async function planSweep(recipe: SearchRecipe, given: PlanAxes = {}, source = recipe.name): Promise<SweepPlan> {
  const { budget: _b, budgets: _s, seed: _z, ...overrides } = given.overrides ?? {};
  const axes = { ...given, overrides };
  const budgets = axes.budgets ?? recipe.sweep?.budgets ?? [];
  if (!budgets.length) throw new Error(`recipe '${recipe.name}': no budgets to sweep (a "sweep": { "budgets": [...] } section, or --budgets)`);
  const seeds = axes.seeds ?? [recipe.seed];
  const backbones = axes.backbones ?? [{ name: recipe.backbone.name, space: recipe.space as string }];
  const cells: PlanCell[] = [];
  for (const b of backbones) {
    const space = typeof b.space === 'string' ? loadSearchSpace(b.space) : (b.space as SearchSpace);
    const base: SearchRecipe = { ...structuredClone(recipe), backbone: { ...recipe.backbone, name: b.name }, space: b.space };
    // Every budget of this backbone is checked against its exact ReLU count before the first hour is
    // spent; the counts and the latency table do not depend on the seed, so once per backbone.
    const pre = await preflightSearch({ ...normalizeSearchRecipe(base, space, { ...axes.overrides, seed: seeds[0]!, budget: budgets[0]! }), sweep: { budgets } }, space, source);
    for (const n of pre.notes) axes.notice?.(n);
    const table = sha256Of(pre.table);
    for (const seed of seeds) {
      const prefix = [...(backbones.length > 1 ? [b.name] : []), ...(seeds.length > 1 ? [`seed-${seed}`] : [])].join('/');
      const at = (d: string) => (prefix ? `${prefix}/${d}` : d);
      const first = normalizeSearchRecipe(base, space, { ...axes.overrides, seed, budget: budgets[0]! });
      let teacher: PlanCell | undefined;
      if (!('weights' in first.teacher)) {
        teacher = { id: cellId('teacher', first, space, table), kind: 'teacher', dir: at('teacher'), backbone: b.name, seed, recipe: first };
        cells.push(teacher);
      }
      for (const budget of budgets) {
        const r = normalizeSearchRecipe(base, space, { ...axes.overrides, seed, budget });
        cells.push({ id: cellId('search', r, space, table, teacher?.id), kind: 'search', dir: at(`budget-${budget}`), backbone: b.name, seed, budget, ...(teacher ? { dependsOn: teacher.id } : {}), recipe: r });
      }
    }
  }
  return { format: 'polynas-sweep-plan', version: 1, name: recipe.name, budgets, seeds, backbones, cells };
}

/** Writes `plan.json` into the study folder (atomically); returns its path. */
export function writePlan(dir: string, plan: SweepPlan): string {
  const file = join(dir, 'plan.json');
  writeJsonAtomic(file, plan);
  return file;
}

/** Reads a `plan.json` (validated; a bad field is named with the file). */
export function readPlan(file: string): { plan: SweepPlan; dir: string } {
  if (!existsSync(file)) throw new Error(`${file}: no such plan (write one with polynas sweep plan)`);
  const plan = readJsonAs(file, PlanFileSchema, 'sweep plan') as unknown as SweepPlan;
  return { plan, dir: dirname(resolve(file)) };
}

/** A cell by index (0-based, as array jobs count; among one kind's cells with `kind`) or id; an unknown one is an error naming the plan's size. */
export function planCell(plan: SweepPlan, which: { index?: number; id?: string; kind?: PlanCell['kind'] }): PlanCell {
  if (which.id !== undefined) {
    const c = plan.cells.find((x) => x.id === which.id);
    if (!c) throw new Error(`plan '${plan.name}' has no cell ${which.id}`);
    return c;
  }
  // With a kind, the index counts that kind's cells only (one array job per stage: teachers, then searches).
  const cells = which.kind ? plan.cells.filter((c) => c.kind === which.kind) : plan.cells;
  const i = which.index!;
  if (!Number.isInteger(i) || i < 0 || i >= cells.length) throw new Error(`cell index ${i}: plan '${plan.name}' has ${which.kind ? `${which.kind} ` : ''}cells 0–${cells.length - 1}`);
  return cells[i]!;
}

/** Whether a cell's folder holds its finished result (a teacher's weights and result, a search's result). */
export function cellFinished(planDir: string, cell: PlanCell): boolean {
  const d = join(planDir, cell.dir);
  return cell.kind === 'teacher' ? existsSync(join(d, 'model.weights.bin')) && existsSync(join(d, 'result.json')) : existsSync(join(d, 'result.json'));
}
