import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendChoice } from '../engine/backend.js';
import { channelStats } from '../data/loader.js';
import type { DownloadOptions } from '../data/download.js';
import { loadLatencyTable } from '../latency/tables.js';
import { loadSearchSpace, type SearchSpace } from '../spec/space.js';
import { buildMaskSupernet, type PlacedGate } from '../supernet/build.js';
import { DartsGate } from '../supernet/darts-gate.js';
import { MaskGate } from '../supernet/mask-gate.js';
import { exportArchitecture, type ExportGate } from '../export/export.js';
import { buildDartsSupernet, dartsSearch, type DartsEpoch, type PlacedDartsGate, type SearchStepEvent } from '../search/darts.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { loadRecipeData, loadTrainedModel, runTraining, trainConfigOf } from './train.js';
import type { TrainRecipe } from '../spec/recipe.js';
import { lockRunDir, openRunDir, runMetadata } from './run-dir.js';
import { fit, type TrainHooks } from '../train/trainer.js';
import { autorepSearch, type SearchHooks } from '../search/autorep.js';
import { resolveBudget } from '../search/budget.js';
import { snlSearch } from '../search/snl.js';
import type { SearchRecipe } from '../search/recipe.js';

export interface RunSearchOptions {
  outDir: string;
  resume?: boolean;
  backend?: BackendChoice;
  /** Overrides the recipe's budget. */
  budget?: number;
  hooks?: {
    train?: TrainHooks;
    /** Search progress of every strategy (`onEpoch` is AutoReP's epoch report). */
    search?: Omit<SearchHooks, 'onStep'> & { onStep?(e: SearchStepEvent & Partial<{ loss: number; count: number; target: number }>): void };
    darts?: { onEpoch?(e: DartsEpoch): void };
    snl?: { onEpoch?(e: { epoch: number; count: number; lambda: number; test: EvalResult }): void };
    phase?: (name: string) => void;
  };
  download?: DownloadOptions;
}

export interface SearchRun {
  outDir: string;
  /** The exact budget met (undefined: DARTS argmax without a budget). */
  budget: number | undefined;
  countBeforeProjection: number;
  relus: number;
  teacher: EvalResult;
  projected: EvalResult;
  finetuned: EvalResult;
  /** Wall seconds of the search phase (0 when restored) and of finetuning (this invocation). */
  searchSeconds: number;
  finetuneSeconds: number;
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
 *
 * @example
 * ```ts
 * const run = await runSearchRecipe(loadSearchRecipe('experiments/search-lenet5-mnist.json'), { outDir: 'runs/s', budget: 300 });
 * console.log(run.relus, run.finetuned.top1);
 * ```
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
  let teacherDir: string;
  if ('weights' in recipe.teacher) {
    teacherDir = recipe.teacher.weights;
    phase(`teacher (loaded from ${teacherDir})`);
  } else {
    phase('teacher');
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
  const placed: ExportGate[] =
    s.strategy === 'darts'
      ? buildDartsSupernet(net, space, table, recipe.latency.network).gates
      : buildMaskSupernet(net, space, {
          seed: recipe.seed,
          ...(s.strategy === 'autorep' && s.threshold ? { threshold: s.threshold } : {}),
          ...(s.strategy === 'snl' ? { mode: 'continuous' as const } : {}),
        }).gates;
  const total = placed.reduce((a, g) => a + (g.gate instanceof DartsGate && !g.gate.names.includes('relu') ? 0 : g.gate.siteSize()), 0);
  const requested = opts.budget ?? s.budget;
  const budget = requested === undefined ? undefined : resolveBudget(requested, total);
  run.writeJson('meta.json', runMetadata(backend, recipe.seed, { recipe: recipe.name, backbone: recipe.backbone.name, space: space.name, strategy: s.strategy, searchableRelus: total, budget, teacherTop1: teacherEval.top1, table: table.id }));

  // Search, then the exact projection; the result is kept so a resumed run does not search again.
  const searchFile = run.path('search.bin');
  let countBefore: number;
  let projected: EvalResult;
  let searchSeconds: number;
  type SearchMeta = { kind: string; strategy?: string; budget?: number; countBefore: number; projected: EvalResult; choices?: Record<string, string>; searchSeconds?: number };
  const saved = opts.resume ? loadCheckpoint<SearchMeta>(searchFile) : undefined;
  if (saved && saved.meta.budget === budget && (saved.meta.strategy ?? 'autorep') === s.strategy) {
    phase('search (restored)');
    net.loadStateDict(saved.tensors);
    for (const { path, gate } of placed) {
      if (gate instanceof MaskGate) gate.freeze(gate.mask.dataSync());
      else gate.choose(saved.meta.choices?.[path] ?? gate.choice());
    }
    countBefore = saved.meta.countBefore;
    projected = saved.meta.projected;
    searchSeconds = saved.meta.searchSeconds ?? 0;
  } else {
    phase('search');
    const t0 = performance.now();
    const onLog = (r: Record<string, unknown>) => run.log(r);
    const stepHooks = {
      ...(opts.hooks?.search?.onStep ? { onStep: opts.hooks.search.onStep } : {}),
      ...(opts.hooks?.search?.signal ? { signal: opts.hooks.search.signal } : {}),
    };
    // The recipe sections use the strategies' own option names, so they pass straight through.
    if (s.strategy === 'darts') {
      const { strategy: _s, budget: _b, ...cfg } = s;
      const r = await dartsSearch(net, placed as PlacedDartsGate[], data, { ...cfg, ...(budget !== undefined ? { budget } : {}), seed: recipe.seed }, { ...stepHooks, ...opts.hooks?.darts, onLog });
      countBefore = r.countBeforeProjection;
      projected = r.test;
    } else {
      const gates = placed as PlacedGate[];
      const r =
        s.strategy === 'snl'
          ? await snlSearch(net, gates, data, { ...s, budget: budget!, seed: recipe.seed }, { teacher, hooks: { ...stepHooks, ...opts.hooks?.snl } })
          : await autorepSearch(net, gates, data, {
              ...s, budget: budget!, seed: recipe.seed,
              dapaDamping: s.dapaDamping ?? space.activation?.poly.damping,
              dapaEvery: space.activation?.poly.dapa === false ? 0 : s.dapaEvery,
            }, { teacher, hooks: { ...opts.hooks?.search, onLog } });
      countBefore = r.countBeforeProjection;
      projected = r.projectedTest;
    }
    const choices = Object.fromEntries(placed.flatMap(({ path, gate }) => (gate instanceof DartsGate ? [[path, gate.choice()]] : [])));
    searchSeconds = (performance.now() - t0) / 1000;
    saveCheckpoint(searchFile, { meta: { kind: 'polynas-search', strategy: s.strategy, budget, countBefore, projected, choices, searchSeconds } satisfies SearchMeta, tensors: net.stateDict() });
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
  const finetuneSeconds = ft.trainSeconds;

  phase('export');
  const architecture = exportArchitecture(net, placed, run.path('architecture'), {
    space, strategy: recipe.search.strategy, normalization: norm, ...(budget !== undefined ? { budget } : {}), seed: recipe.seed, table, ...(recipe.latency.network ? { network: recipe.latency.network } : {}), recipe,
    metrics: { teacherTop1: teacherEval.top1, projectedTop1: projected.top1, finetunedTop1: finetuned.top1, finetunedTop5: finetuned.top5, countBeforeProjection: countBefore },
  });
  const relus = net.reluCount().total;
  run.writeText('summary.md', [
    `# ${recipe.name}`, '',
    `- backbone ${recipe.backbone.name}, space ${space.name} (${space.activation?.granularity} ${space.activation?.candidates.join(' vs ')}), backend ${backend.backend}`,
    `- strategy ${s.strategy}; budget ${budget === undefined ? 'none (argmax per gate)' : budget.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} searchable ReLUs; before projection ${countBefore.toLocaleString('en-US')}, exported ${relus.toLocaleString('en-US')}`,
    ...(latencyLine(architecture) ? [latencyLine(architecture)!] : []),
    `- teacher top-1 ${(teacherEval.top1 * 100).toFixed(2)} %, after projection ${(projected.top1 * 100).toFixed(2)} %, finetuned ${(finetuned.top1 * 100).toFixed(2)} %`, '',
  ].join('\n'));
  run.log({ type: 'end', relus, finetuned });
  teacher.dispose();
  net.dispose();
  const result: SearchRun = { outDir: opts.outDir, budget, countBeforeProjection: countBefore, relus, teacher: teacherEval, projected, finetuned, searchSeconds, finetuneSeconds, architecture };
  const { architecture: _a, ...summary } = result;
  run.writeJson('result.json', { ...summary, strategy: s.strategy, seed: recipe.seed, latency: latencySummary(architecture) });
  return result;
}

/** The headline figures of an export's predicted latency (without the per-layer list). */
export interface LatencySummary {
  table: string;
  network?: string;
  total: number;
  unit: string;
  totalMs?: number;
  commBytes?: number;
  rounds?: number;
}

function latencySummary(arch: Record<string, unknown>): LatencySummary | undefined {
  const l = arch.latency as (LatencySummary & { perLayer?: unknown; unmodelled?: unknown }) | undefined;
  if (!l) return undefined;
  const { perLayer: _p, unmodelled: _u, ...head } = l;
  return head;
}

/** One summary line with the exported network's predicted 2PC latency, if a table priced it. */
export function latencyLine(arch: Record<string, unknown>): string | undefined {
  const l = latencySummary(arch);
  if (!l) return undefined;
  const ms = l.totalMs !== undefined ? `${(l.totalMs / 1000).toFixed(3)} s` : `${l.total.toFixed(1)} ${l.unit}`;
  const comm = l.commBytes !== undefined ? `, ${(l.commBytes / 2 ** 20).toFixed(1)} MiB communicated` : '';
  const rounds = l.rounds !== undefined ? `, ${l.rounds} rounds` : '';
  return `- predicted 2PC latency ${ms} under ${l.table}${l.network ? ` (${l.network})` : ''}${comm}${rounds}`;
}
