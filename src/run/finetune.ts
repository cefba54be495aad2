import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { selectBackend, type BackendChoice } from '../engine/backend.js';
import type { DownloadOptions } from '../data/download.js';
import { channelStats } from '../data/loader.js';
import { architectureFiles, readArchitecture, rebuildArchitecture, toArchitecture, writeArchitecture } from '../export/architecture.js';
import { loadLatencyTable } from '../latency/tables.js';
import { summarizeFinetuneRun } from '../report/summary.js';
import type { Architecture } from '../spec/architecture.js';
import type { FinetuneResultFile } from '../spec/result.js';
import { parseSearchRecipe, type SearchRecipe } from '../search/recipe.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { fit, type TrainHooks } from '../train/trainer.js';
import { lockRunDir, openRunDir, runMetadata, RunStoppedError } from './run-dir.js';
import { loadRecipeData, loadTrainedModel, trainConfigOf, trainRecipeOf } from './train.js';

/** Options of {@link finetuneArchitecture}. */
export interface FinetuneOptions {
  outDir: string;
  /** Overrides of the embedded recipe's finetune section. */
  epochs?: number;
  lr?: number;
  /** Dataset folder (overrides the embedded recipe's). */
  dataDir?: string;
  /** Seed of shuffling (overrides the embedded recipe's). */
  seed?: number;
  /** Distill from the teacher (default: the recipe's `finetune.distill`); false finetunes without it. */
  distill?: boolean;
  resume?: boolean;
  backend?: BackendChoice;
  hooks?: TrainHooks;
  download?: DownloadOptions;
}

/** What {@link finetuneArchitecture} returns. */
export interface FinetuneRun {
  before: EvalResult;
  after: EvalResult;
  relus: number;
  trainSeconds: number;
}

/**
 * The search recipe an architecture was exported from (needed for its dataset and schedule).
 *
 * @example
 * ```ts
 * embeddedRecipe(readArchitecture('runs/s/architecture.json'), 'runs/s/architecture.json').finetune.epochs;
 * ```
 */
export function embeddedRecipe(arch: Architecture, file: string): SearchRecipe {
  if (!arch.recipe) throw new Error(`${file}: has no embedded recipe (exported outside a search run); finetune it with the library's fit()`);
  const r = parseSearchRecipe(arch.recipe, `${file}: recipe`);
  // Paths recorded relative to the run folder (the teacher's) resolve against the export's folder.
  if ('weights' in r.teacher && !isAbsolute(r.teacher.weights)) r.teacher = { weights: resolve(dirname(resolve(file)), r.teacher.weights) };
  return r;
}

/** The finetune section with the overrides applied. */
function finetuneSection(recipe: SearchRecipe, opts: FinetuneOptions): SearchRecipe['finetune'] {
  const ft = { ...recipe.finetune, ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}) };
  if (opts.lr !== undefined) ft.schedule = { ...ft.schedule, lr: opts.lr };
  return ft;
}

/**
 * Finetunes an exported architecture further with its decisions frozen (the embedded recipe's
 * finetune section, with `epochs`/`lr` overrides; distillation from the teacher when the recipe
 * asks for it and the teacher's weights are still there), then exports it again into `outDir`
 * (`architecture.json` + weights, `result.json`, `summary.md`). Resumable from `outDir`'s checkpoint.
 *
 * @example
 * ```ts
 * const r = await finetuneArchitecture('runs/s/architecture.json', { outDir: 'runs/s-ft', epochs: 20 });
 * console.log(r.before.top1, '→', r.after.top1);
 * ```
 */
export async function finetuneArchitecture(path: string, opts: FinetuneOptions): Promise<FinetuneRun> {
  const release = lockRunDir(opts.outDir);
  try {
    const run = openRunDir(opts.outDir);
    const arch = readArchitecture(path);
    const recipe = withOverrides(embeddedRecipe(arch, path), opts);
    const backend = await selectBackend(recipe.backend);
    const { net, gates } = await rebuildArchitecture(arch, architectureFiles(path).weights, architectureFiles(path).json);
    try {
      const ft = finetuneSection(recipe, opts);
      const trainRecipe = trainRecipeOf(recipe, ft, `${recipe.name}-finetune`);
      const splits = await loadRecipeData(trainRecipe, opts.download);
      const data = { ...splits, norm: arch.normalization ?? channelStats(splits.train) };
      const updated: SearchRecipe = { ...recipe, finetune: ft };
      run.writeJson('recipe.json', updated);
      const teacher = loadTeacher(recipe, path, opts.distill ?? ft.distill);
      run.writeJson('meta.json', runMetadata(backend, recipe.seed, { from: path, backbone: arch.backbone, distill: !!teacher }));
      const before = evaluate(net, data.test, { norm: data.norm });
      const r = await fit(net, data, trainConfigOf(trainRecipe, data.train.labels.length), {
        checkpointPath: run.path('checkpoint.bin'), resume: !!opts.resume,
        hooks: { ...opts.hooks, onLog: (l) => { run.log(l); opts.hooks?.onLog?.(l); } },
        ...(teacher ? { distill: { teacher } } : {}),
      }).finally(() => teacher?.dispose());
      if (!r.completed) throw new RunStoppedError('finetuning', opts.outDir);
      const after = r.final!;
      const exported = toArchitecture(net, gates, {
        space: arch.space, strategy: arch.strategy, seed: arch.seed, normalization: data.norm, recipe: updated,
        ...(arch.budget !== undefined ? { budget: arch.budget } : {}), ...(arch.relus.budgetIncludesMaxPool ? { countMaxPool: true } : {}),
        table: loadLatencyTable(recipe.latency.table),
        ...(arch.latency?.network ? { network: arch.latency.network } : {}),
        metrics: { ...arch.metrics, finetunedFrom: path, beforeTop1: before.top1, finetunedTop1: after.top1, finetunedTop5: after.top5 },
      });
      writeArchitecture(join(opts.outDir, 'architecture'), exported, net);
      const result: FinetuneResultFile = { before, final: after, relus: exported.relus.total, epochs: ft.epochs, trainSeconds: r.trainSeconds, backend: backend.backend };
      run.writeJson('result.json', result);
      run.writeText('summary.md', summarizeFinetuneRun(recipe.name, path, result, !!teacher));
      return { before, after, relus: result.relus, trainSeconds: r.trainSeconds };
    } finally {
      net.dispose();
    }
  } finally {
    release();
  }
}

/** The embedded recipe with the command line's data folder, seed and backend applied (and recorded). */
function withOverrides(recipe: SearchRecipe, opts: FinetuneOptions): SearchRecipe {
  const o = { ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.backend ? { backend: opts.backend } : {}) };
  if (!Object.keys(o).length) return recipe;
  return {
    ...recipe, seed: o.seed ?? recipe.seed, backend: o.backend ?? recipe.backend,
    dataset: { ...recipe.dataset, ...(o.dataDir ? { dir: o.dataDir } : {}) }, overrides: { ...recipe.overrides, ...o },
  };
}

/**
 * The teacher for distillation: the recipe's weights, or the one the search run trained beside the
 * export. A missing teacher is an error unless distillation is turned off (`distill: false`).
 */
function loadTeacher(recipe: SearchRecipe, path: string, distill: boolean) {
  if (!distill) return undefined;
  const dir = 'weights' in recipe.teacher ? recipe.teacher.weights : join(dirname(resolve(path)), 'teacher');
  if (!existsSync(dir)) throw new Error(`${path}: the recipe distills from the teacher at ${dir}, which is missing; turn distillation off to finetune without it`);
  const teacher = loadTrainedModel(dir).model;
  teacher.eval();
  return teacher;
}
