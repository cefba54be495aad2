import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { selectBackend, type BackendChoice } from '../engine/backend.js';
import type { DownloadOptions } from '../data/download.js';
import { channelStats, type Normalization } from '../data/loader.js';
import { exportArchitecture, loadExportedArchitecture } from '../export/export.js';
import { loadLatencyTable } from '../latency/tables.js';
import { parseSearchSpace } from '../spec/space.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { loadRecipeData, loadTrainedModel, trainConfigOf } from './train.js';
import type { TrainRecipe } from '../spec/recipe.js';
import { lockRunDir, openRunDir, runMetadata } from './run-dir.js';
import { fit, type TrainHooks } from '../train/trainer.js';
import { parseSearchRecipe, type SearchRecipe } from '../search/recipe.js';

/** Options of {@link finetuneArchitecture}. */
export interface FinetuneOptions {
  outDir: string;
  /** Overrides of the embedded recipe's finetune section. */
  epochs?: number;
  lr?: number;
  /** Dataset folder (overrides the embedded recipe's). */
  dataDir?: string;
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
 * const { arch } = loadExportedArchitecture('runs/s/architecture');
 * embeddedRecipe(arch, 'runs/s/architecture.json').finetune.epochs;
 * ```
 */
export function embeddedRecipe(arch: Record<string, unknown>, file: string): SearchRecipe {
  if (!arch.recipe) throw new Error(`${file}: has no embedded recipe (exported outside a search run); finetune it with the library's fit()`);
  return parseSearchRecipe(arch.recipe, `${file}: recipe`);
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
    const backend = await selectBackend(opts.backend ?? 'auto');
    const { net, gates, arch } = loadExportedArchitecture(path);
    const recipe = embeddedRecipe(arch, path);
    if (opts.dataDir) recipe.dataset.dir = opts.dataDir;
    const ft = { ...recipe.finetune, ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}) };
    if (opts.lr !== undefined) ft.schedule = { ...ft.schedule, lr: opts.lr };
    const trainRecipe: TrainRecipe = { name: `${recipe.name}-finetune`, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train: ft };
    const splits = await loadRecipeData(trainRecipe, opts.download);
    const norm = (arch.normalization as Normalization | undefined) ?? channelStats(splits.train);
    const data = { ...splits, norm };
    // The teacher: the recipe's weights, or the one the search run trained beside the export.
    const teacherDir = 'weights' in recipe.teacher ? recipe.teacher.weights : join(dirname(resolve(path)), 'teacher');
    let teacher;
    if (ft.distill && existsSync(teacherDir)) {
      teacher = loadTrainedModel(teacherDir).model;
      teacher.eval();
    }
    run.writeJson('recipe.json', { ...recipe, finetune: ft });
    run.writeJson('meta.json', runMetadata(backend, recipe.seed, { from: path, backbone: arch.backbone, distill: !!teacher }));
    const before = evaluate(net, data.test, { norm });
    const r = await fit(net, data, trainConfigOf(trainRecipe, data.train.labels.length), {
      checkpointPath: run.path('checkpoint.bin'), resume: !!opts.resume,
      hooks: { ...opts.hooks, onLog: (l) => run.log(l) },
      ...(teacher ? { distill: { teacher } } : {}),
    });
    teacher?.dispose();
    if (!r.completed) {
      net.dispose();
      throw new Error(`finetuning was stopped; continue with --resume (checkpoint in ${opts.outDir})`);
    }
    const after = r.final!;
    const space = parseSearchSpace(arch.space, `${path}: space`);
    const lat = arch.latency as { table?: string; network?: string } | undefined;
    const tableId = recipe.latency.table;
    exportArchitecture(net, gates, join(opts.outDir, 'architecture'), {
      space, strategy: String(arch.strategy), seed: recipe.seed, normalization: norm, recipe: { ...recipe, finetune: ft },
      ...(typeof arch.budget === 'number' ? { budget: arch.budget } : {}),
      ...(tableId ? { table: loadLatencyTable(tableId) } : {}),
      ...(lat?.network ? { network: lat.network } : {}),
      metrics: { ...(arch.metrics as Record<string, unknown>), finetunedFrom: path, beforeTop1: before.top1, finetunedTop1: after.top1, finetunedTop5: after.top5 },
    });
    const relus = net.reluCount().total;
    net.dispose();
    run.writeJson('result.json', { before, final: after, relus, epochs: ft.epochs, trainSeconds: r.trainSeconds, backend: backend.backend });
    run.writeText('summary.md', [
      `# ${recipe.name}: finetuned`, '',
      `- from ${path}: ${relus} ReLUs, decisions frozen`,
      `- top-1 ${(before.top1 * 100).toFixed(2)} % → **${(after.top1 * 100).toFixed(2)} %** after ${ft.epochs} epochs (${r.trainSeconds.toFixed(0)} s)${teacher ? ', distilled from the teacher' : ''}`, '',
    ].join('\n'));
    return { before, after, relus, trainSeconds: r.trainSeconds };
  } finally {
    release();
  }
}
