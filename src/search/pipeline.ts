import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendChoice } from '../engine/backend.js';
import { channelStats } from '../data/loader.js';
import type { DownloadOptions } from '../data/download.js';
import { loadLatencyTable } from '../latency/tables.js';
import { loadSearchSpace, type SearchSpace } from '../space/schema.js';
import { buildMaskSupernet } from '../supernet/build.js';
import { exportArchitecture } from '../export/export.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { loadRecipeData, loadTrainedModel, runTraining, trainConfigOf } from '../train/pipeline.js';
import type { TrainRecipe } from '../train/recipe.js';
import { lockRunDir, openRunDir, runMetadata } from '../train/run-dir.js';
import { fit, type TrainHooks } from '../train/trainer.js';
import { autorepSearch, type SearchHooks } from './autorep.js';
import { resolveBudget } from './budget.js';
import { snlSearch } from './snl.js';
import type { SearchRecipe } from './recipe.js';

export interface RunSearchOptions {
  outDir: string;
  resume?: boolean;
  backend?: BackendChoice;
  /** Overrides the recipe's budget. */
  budget?: number;
  hooks?: { train?: TrainHooks; search?: SearchHooks; phase?: (name: string) => void };
  download?: DownloadOptions;
}

export interface SearchRun {
  outDir: string;
  budget: number;
  countBeforeProjection: number;
  relus: number;
  teacher: EvalResult;
  projected: EvalResult;
  finetuned: EvalResult;
  architecture: Record<string, unknown>;
}

/**
 * Runs a search recipe end to end:
 *
 * ```
 * teacher (train or load) ─> supernet (space) ─> AutoReP or SNL search ─> exact projection onto B
 *        ─> finetune (decisions frozen, distillation) ─> export architecture.json + weights
 * ```
 *
 * Resumable by phase: a finished teacher, search (`search.bin`) or finetuning is not redone, and
 * teacher training and finetuning resume from their own checkpoints.
 */
export async function runSearchRecipe(recipe: SearchRecipe, opts: RunSearchOptions): Promise<SearchRun> {
  const release = lockRunDir(opts.outDir);
  try {
    return await searchInRunDir(recipe, opts);
  } finally {
    release();
  }
}

async function searchInRunDir(recipe: SearchRecipe, opts: RunSearchOptions): Promise<SearchRun> {
  const run = openRunDir(opts.outDir);
  const phase = opts.hooks?.phase ?? (() => {});
  const backend = await selectBackend(opts.backend ?? recipe.backend);
  const space: SearchSpace = typeof recipe.space === 'string' ? loadSearchSpace(recipe.space) : recipe.space;
  if (space.backbone !== recipe.backbone.name) throw new Error(`space '${space.name}' is for '${space.backbone}' but the recipe's backbone is '${recipe.backbone.name}'`);
  const table = loadLatencyTable(recipe.latency.table);
  run.writeJson('recipe.json', recipe);

  // Teacher: the all-ReLU network every search starts from.
  phase('teacher');
  let teacherDir: string;
  if ('weights' in recipe.teacher) teacherDir = recipe.teacher.weights;
  else {
    teacherDir = join(opts.outDir, 'teacher');
    if (!existsSync(join(teacherDir, 'model.weights.bin'))) {
      const trainRecipe: TrainRecipe = { name: `${recipe.name}-teacher`, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train: recipe.teacher.train };
      await runTraining(trainRecipe, { outDir: teacherDir, resume: true, ...(opts.hooks?.train ? { hooks: opts.hooks.train } : {}), ...(opts.download ? { download: opts.download } : {}) });
    }
  }
  const { model: teacher, meta } = loadTrainedModel(teacherDir);
  teacher.eval();
  const splits = await loadRecipeData({ name: recipe.name, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train: recipe.finetune }, opts.download);
  const norm = meta.normalization ?? channelStats(splits.train);
  const data = { ...splits, norm };
  const teacherEval = evaluate(teacher, data.test, { norm });

  // Supernet from the teacher's weights.
  const { model: net } = loadTrainedModel(teacherDir);
  const s = recipe.search;
  const { gates } = buildMaskSupernet(net, space, {
    seed: recipe.seed,
    ...(s.strategy === 'autorep' && s.threshold ? { threshold: s.threshold } : {}),
    ...(s.strategy === 'snl' ? { mode: 'continuous' as const } : {}),
  });
  const total = gates.reduce((a, g) => a + g.gate.siteSize(), 0);
  const budget = resolveBudget(opts.budget ?? recipe.search.budget, total);
  run.writeJson('meta.json', runMetadata(backend, recipe.seed, { recipe: recipe.name, backbone: recipe.backbone.name, space: space.name, searchableRelus: total, budget, teacherTop1: teacherEval.top1, table: table.id }));

  // Search, then the exact projection; the result is kept so a resumed run does not search again.
  const searchFile = run.path('search.bin');
  let countBefore: number;
  let projected: EvalResult;
  const saved = opts.resume ? loadCheckpoint<{ kind: string; budget: number; countBefore: number; projected: EvalResult }>(searchFile) : undefined;
  if (saved && saved.meta.budget === budget) {
    phase('search (restored)');
    net.loadStateDict(saved.tensors);
    for (const { gate } of gates) gate.freeze(gate.mask.dataSync());
    countBefore = saved.meta.countBefore;
    projected = saved.meta.projected;
  } else {
    phase('search');
    const onLog = (r: Record<string, unknown>) => run.log(r);
    // The recipe sections use the strategies' own option names, so they pass straight through.
    const r =
      s.strategy === 'snl'
        ? await snlSearch(net, gates, data, { ...s, budget, seed: recipe.seed }, { teacher })
        : await autorepSearch(net, gates, data, {
            ...s, budget, seed: recipe.seed,
            dapaDamping: s.dapaDamping ?? space.activation?.poly.damping,
            dapaEvery: space.activation?.poly.dapa === false ? 0 : s.dapaEvery,
          }, { teacher, hooks: { ...opts.hooks?.search, onLog } });
    countBefore = r.countBeforeProjection;
    projected = r.projectedTest;
    saveCheckpoint(searchFile, { meta: { kind: 'polynas-search', budget, countBefore, projected }, tensors: net.stateDict() });
  }
  run.log({ type: 'projection', budget, before: countBefore, after: net.reluCount().total });

  // Finetune with the decisions frozen.
  phase('finetune');
  const ftRecipe: TrainRecipe = { name: recipe.name, seed: recipe.seed, backend: recipe.backend, dataset: recipe.dataset, backbone: recipe.backbone, train: recipe.finetune };
  const ft = await fit(net, data, trainConfigOf(ftRecipe, data.train.labels.length), {
    checkpointPath: run.path('finetune.bin'), resume: !!opts.resume,
    hooks: { ...opts.hooks?.train, onLog: (r) => run.log(r) },
    ...(recipe.finetune.distill ? { distill: { teacher } } : {}),
  });
  if (!ft.completed) throw new Error('finetuning was stopped; run again with --resume');
  const finetuned = ft.final!;

  phase('export');
  const architecture = exportArchitecture(net, gates, run.path('architecture'), {
    space, strategy: recipe.search.strategy, budget, seed: recipe.seed, table, ...(recipe.latency.network ? { network: recipe.latency.network } : {}), recipe,
    metrics: { teacherTop1: teacherEval.top1, projectedTop1: projected.top1, finetunedTop1: finetuned.top1, finetunedTop5: finetuned.top5, countBeforeProjection: countBefore },
  });
  const relus = net.reluCount().total;
  run.writeText('summary.md', [
    `# ${recipe.name}`, '',
    `- backbone ${recipe.backbone.name}, space ${space.name} (${space.activation?.granularity} ${space.activation?.candidates.join(' vs ')}), backend ${backend.backend}`,
    `- budget ${budget.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} searchable ReLUs; before projection ${countBefore.toLocaleString('en-US')}, exported ${relus.toLocaleString('en-US')}`,
    `- teacher top-1 ${(teacherEval.top1 * 100).toFixed(2)} %, after projection ${(projected.top1 * 100).toFixed(2)} %, finetuned ${(finetuned.top1 * 100).toFixed(2)} %`, '',
  ].join('\n'));
  run.log({ type: 'end', relus, finetuned });
  teacher.dispose();
  return { outDir: opts.outDir, budget, countBeforeProjection: countBefore, relus, teacher: teacherEval, projected, finetuned, architecture };
}
