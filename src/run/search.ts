import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { selectBackend, type BackendInfo } from '../engine/backend.js';
import type { Backbone } from '../backbones/backbone.js';
import { channelStats, type Normalization } from '../data/loader.js';
import type { DownloadOptions } from '../data/download.js';
import type { ImageDataset } from '../data/dataset.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import type { LatencyTable } from '../latency/schema.js';
import type { Architecture, ArchitectureSite } from '../spec/architecture.js';
import type { SearchResultFile } from '../spec/result.js';
import { loadSearchSpace, type SearchSpace } from '../spec/space.js';
import { buildSupernet } from '../supernet/build.js';
import { keptRelus, type PlacedGate } from '../supernet/gate.js';
import { budgetBasis, networkBudget, type BudgetBasis } from '../search/budget.js';
import { loadSearchState, removeSearchState, saveSearchState } from './search-state.js';
import { runSearchLoop, type SearchHooks } from '../search/loop.js';
import { normalizeSearchRecipe, type Overrides, type SearchRecipe } from '../search/recipe.js';
import { getStrategy, type SearchStrategy, type SectionBase } from '../search/strategy.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { fit, type TrainHooks } from '../train/trainer.js';
import { toArchitecture, writeArchitecture } from '../export/architecture.js';
import { latencySummary, summarizeSearchRun } from '../report/summary.js';
import { checkResumeBackend, lockRunDir, openRunDir, runMetadata, RunStoppedError, type RunDir } from './run-dir.js';
import { cloneTeacher, teacherPhase, type Teacher } from './teacher.js';
import { claimRunDir, runIdentity, sha256Of, teacherIdentity, type RunIdentity } from './identity.js';
import { datasetFingerprint } from '../data/datasets.js';
import { preflightSearch } from './preflight.js';
import { loadRecipeData, trainConfigOf, trainRecipeOf } from './train.js';

/** Observers of a search run: teacher training and finetuning, the search, and phase changes. */
export interface RunSearchHooks {
  train?: TrainHooks;
  search?: SearchHooks;
  phase?: (name: string) => void;
  /** Things worth knowing that are not errors (e.g. operators the latency table leaves unmodelled). */
  notice?: (text: string) => void;
}

/** Options of {@link runSearchRecipe}. */
export interface RunSearchOptions {
  outDir: string;
  /** Continue the folder's phases (a finished teacher or search is never redone). */
  resume?: boolean;
  /** Command-line overrides (budget, seed, data folder, backend): applied to a copy of the recipe and recorded in it. */
  overrides?: Overrides;
  /** Where the recipe came from (its file), named in errors; default its name. */
  source?: string;
  /** A folder holding results of other settings is refused; with `fresh` its earlier results are removed. */
  fresh?: boolean;
  hooks?: RunSearchHooks;
  download?: DownloadOptions;
}

/** What {@link runSearchRecipe} produced. */
export interface SearchRun extends SearchResultFile {
  architecture: Architecture;
  /** The normalized recipe the run used (as in its `recipe.json`). */
  recipe: SearchRecipe;
}

/** Everything the phases share: the normalized recipe and what it resolves to. */
interface SearchRunContext {
  recipe: SearchRecipe;
  strategy: SearchStrategy<SectionBase, unknown>;
  settings: SectionBase;
  space: SearchSpace;
  table: LatencyTable;
  backend: BackendInfo;
  run: RunDir;
  opts: RunSearchOptions;
  phase: (name: string) => void;
  /** Derived values, written to `recipe.json`'s `resolved` block as they become known. */
  resolved: Record<string, number | string | null>;
}

interface Data {
  train: ImageDataset;
  test: ImageDataset;
  norm: Normalization;
}

interface Supernet {
  net: Backbone;
  gates: PlacedGate[];
  searchable: number;
  /** ReLUs outside the gates (they count against the budget). */
  fixed: number;
  /** The network's ReLU budget B (the gates get B − fixed). */
  budget: number | undefined;
}

interface Searched {
  countBeforeProjection: number;
  projected: EvalResult;
  searchSeconds: number;
}

/** The checkpoint of a finished search phase (`search.bin`): the weights, and every gate's decisions. */
interface SearchCheckpointMeta {
  kind: 'polynas-search';
  strategy?: string;
  budget?: number;
  countBefore: number;
  projected: EvalResult;
  searchSeconds?: number;
  sites?: Record<string, ArchitectureSite>;
  resolved?: Record<string, number>;
  /** Format 1: the DARTS choices by site. */
  choices?: Record<string, string>;
  /** Hash of what decides the search (its section, seed, space, dataset and backbone); absent in format 1. */
  settings?: string;
}

/** Hash of the settings that decide a search's result: a saved search is reused only when they match. */
function searchSettingsHash(ctx: SearchRunContext): string {
  const r = ctx.recipe;
  const key = { search: r.search, seed: r.seed, space: ctx.space, dataset: { ...r.dataset, dir: undefined }, backbone: r.backbone, teacher: r.teacher };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
}

/**
 * Runs a search recipe end to end, in named phases that share one context:
 *
 * ```
 * prepare (normalize the recipe, space, table, backend; recipe.json)
 *   ─> teacher (train or load) ─> data ─> supernet (student cloned from the teacher, gates, budget)
 *   ─> search (the strategy in the shared loop, exact projection; or restored from search.bin)
 *   ─> finetune (decisions frozen, distillation) ─> export (architecture.json + weights) ─> summary
 * ```
 *
 * Resumable by phase: a finished teacher or search is not redone, and teacher training and
 * finetuning resume from their own checkpoints.
 *
 * @example
 * ```ts
 * const run = await runSearchRecipe(loadSearchRecipe('experiments/search-lenet5-mnist.json'), { outDir: 'runs/s', overrides: { budget: 300 } });
 * console.log(run.relus, run.finetuned.top1);
 * ```
 */
export async function runSearchRecipe(recipe: SearchRecipe, opts: RunSearchOptions): Promise<SearchRun> {
  const release = lockRunDir(opts.outDir);
  try {
    const ctx = await prepare(recipe, opts);
    const teacher = await teacherPhase(ctx.recipe, {
      dir: ctx.run.path('teacher'), backend: ctx.recipe.backend, phase: ctx.phase,
      ...(opts.fresh ? { fresh: true } : {}), ...(opts.hooks?.notice ? { notice: opts.hooks.notice } : {}),
      ...(opts.hooks?.train ? { hooks: opts.hooks.train } : {}), ...(opts.download ? { download: opts.download } : {}),
    });
    try {
      const data = await dataPhase(ctx, teacher);
      const teacherEval = evaluate(teacher.model, data.test, { norm: data.norm });
      const sn = await supernetPhase(ctx, teacher, teacherEval);
      try {
        const searched = await searchPhase(ctx, sn, data, teacher);
        const ft = await finetunePhase(ctx, sn, data, teacher);
        const architecture = exportPhase(ctx, sn, data, { teacherEval, searched, finetuned: ft.final });
        return summarize(ctx, sn, architecture, { teacherEval, searched, ...ft });
      } finally {
        sn.net.dispose();
      }
    } finally {
      teacher.model.dispose();
    }
  } finally {
    release();
  }
}

/** Normalizes the recipe and loads what it names; writes `recipe.json` once all of it validated. */
async function prepare(recipe: SearchRecipe, opts: RunSearchOptions): Promise<SearchRunContext> {
  const space = typeof recipe.space === 'string' ? loadSearchSpace(recipe.space) : recipe.space;
  const normalized = normalizeSearchRecipe(recipe, space, opts.overrides);
  // Everything that can be checked without training is checked before the teacher's hours.
  const { table, notes } = await preflightSearch(normalized, space, opts.source ?? recipe.name);
  for (const n of notes) opts.hooks?.notice?.(n);
  const strategy = getStrategy(normalized.search.strategy);
  const backend = await selectBackend(normalized.backend);
  if (opts.resume) checkResumeBackend(opts.outDir, backend.backend);
  // The folder's results must be of these settings (or, with fresh, are removed) before anything is written.
  claimRunDir(opts.outDir, searchIdentity(normalized, space, table, backend.backend), { ...(opts.fresh ? { fresh: true } : {}), phaseFiles: SEARCH_PHASE_FILES, ...(opts.hooks?.notice ? { notice: opts.hooks.notice } : {}) });
  const run = openRunDir(opts.outDir);
  run.writeJson('recipe.json', recorded(normalized, opts.outDir));
  return { recipe: normalized, strategy, settings: normalized.search, space, table, backend, run, opts, phase: opts.hooks?.phase ?? (() => {}), resolved: {} };
}

/** What a search run folder holds as results of its settings. */
const SEARCH_PHASE_FILES = ['search-state.bin', 'search.bin', 'finetune.bin', 'result.json', 'architecture.json', 'architecture.weights.bin', 'summary.md', 'meta.json', 'recipe.json'];

/**
 * The identity of a search run ({@link runIdentity}): the normalized recipe without names, paths and
 * records (its space and table by content, its data by fingerprint, a teacher given by weights by
 * their hash), and the backend.
 */
export function searchIdentity(recipe: SearchRecipe, space: SearchSpace, table: LatencyTable, backend: string): RunIdentity {
  const { name: _n, description: _d, $schema: _s, overrides: _o, resolved: _r, sweep: _w, space: _sp, teacher, dataset, latency, ...rest } = recipe;
  const { dir: _dir, download: _dl, ...data } = dataset;
  return runIdentity({
    recipe: { ...rest, dataset: data, latency: { ...latency, table: undefined }, teacher: teacherIdentity(teacher) },
    space, table: sha256Of(table), data: datasetFingerprint(dataset), backend,
  });
}

/** Appends a record to the run's `log.jsonl` and passes it on to the caller's hook. */
function logTo(ctx: SearchRunContext, record: Record<string, unknown>, hook?: (r: Record<string, unknown>) => void): void {
  ctx.run.log(record);
  hook?.(record);
}

/** Records derived values in `recipe.json`'s `resolved` block. */
function recordResolved(ctx: SearchRunContext, values: Record<string, number | string | null>): void {
  Object.assign(ctx.resolved, values);
  ctx.run.writeJson('recipe.json', recorded({ ...ctx.recipe, resolved: ctx.resolved }, ctx.opts.outDir));
}

/**
 * The recipe as a run folder records it: teacher weights relative to the folder, so that a moved or
 * copied folder (and a sweep's budget folders) still finds its teacher.
 */
function recorded(recipe: SearchRecipe, outDir: string): SearchRecipe {
  if (!('weights' in recipe.teacher) || !isAbsolute(recipe.teacher.weights)) return recipe;
  return { ...recipe, teacher: { weights: relative(resolve(outDir), recipe.teacher.weights) || '.' } };
}

/** The recipe's data, normalized as the teacher was trained. */
async function dataPhase(ctx: SearchRunContext, teacher: Teacher): Promise<Data> {
  const splits = await loadRecipeData(trainRecipeOf(ctx.recipe, ctx.recipe.finetune), ctx.opts.download);
  return { ...splits, norm: teacher.meta.normalization ?? channelStats(splits.train) };
}

/** The student (the teacher's network, cloned), gated as the strategy asks; the budget resolved against all its ReLUs ({@link networkBudget}). */
async function supernetPhase(ctx: SearchRunContext, teacher: Teacher, teacherEval: EvalResult): Promise<Supernet> {
  const { recipe, strategy, settings } = ctx;
  const net = cloneTeacher(teacher);
  let gates: PlacedGate[];
  let budget: number | undefined;
  let basis: BudgetBasis;
  try {
    gates = await buildSupernet(net, ctx.space, {
      gate: strategy.gate, seed: recipe.seed, ...(strategy.maskRule ? { rule: strategy.maskRule } : {}), ...strategy.supernet?.(settings),
    });
    basis = budgetBasis(net, gates, { countMaxPool: settings.countMaxPool ?? false });
    budget = settings.budget === undefined ? undefined : networkBudget(settings.budget, basis).budget;
  } catch (e) {
    net.dispose();
    throw e;
  }
  recordResolved(ctx, { budget: budget ?? null, networkRelus: basis.network, searchableRelus: basis.searchable, fixedRelus: basis.fixed });
  ctx.run.writeJson('meta.json', runMetadata(ctx.backend, recipe.seed, {
    recipe: recipe.name, backbone: recipe.backbone.name, space: ctx.space.name, strategy: strategy.name, networkRelus: basis.network, searchableRelus: basis.searchable, budget, teacherTop1: teacherEval.top1, table: ctx.table.id,
  }));
  return { net, gates, searchable: basis.searchable, fixed: basis.fixed, budget };
}

/** The search in the shared loop (continued from `search-state.bin` when resuming), or its result restored from `search.bin`. */
async function searchPhase(ctx: SearchRunContext, sn: Supernet, data: Data, teacher: Teacher): Promise<Searched> {
  const file = ctx.run.path('search.bin');
  const settings = searchSettingsHash(ctx);
  const saved = ctx.opts.resume ? loadCheckpoint<SearchCheckpointMeta>(file) : undefined;
  const same = saved && saved.meta.budget === sn.budget && (saved.meta.strategy ?? 'autorep') === ctx.strategy.name && (saved.meta.settings ?? settings) === settings;
  if (saved && same) {
    ctx.phase('search (restored)');
    sn.net.loadStateDict(saved.tensors);
    for (const { path, gate } of sn.gates) {
      const choice = saved.meta.choices?.[path];
      const site = saved.meta.sites?.[path] ?? gate.toSite();
      gate.restore(choice && site.gate === 'darts' ? { ...site, op: choice } : site);
    }
    if (saved.meta.resolved) recordResolved(ctx, saved.meta.resolved);
    ctx.run.log({ type: 'projection', restored: true, budget: sn.budget, before: saved.meta.countBefore, after: keptRelus(sn.gates) + sn.fixed, test: saved.meta.projected });
    return { countBeforeProjection: saved.meta.countBefore, projected: saved.meta.projected, searchSeconds: saved.meta.searchSeconds ?? 0 };
  }
  // A search stopped or killed mid-way continues from its last snapshot (every epoch, and on Ctrl-C).
  const stateFile = ctx.run.path('search-state.bin');
  // A snapshot continues only under the same search settings, latency table and profile (the loss may use them) and backend.
  const stateKey = `${settings}:${createHash('sha256').update(JSON.stringify({ latency: ctx.recipe.latency, backend: ctx.backend.backend })).digest('hex').slice(0, 16)}`;
  const resumeFrom = ctx.opts.resume ? loadSearchState(stateFile, stateKey) : undefined;
  ctx.phase(resumeFrom ? `search (resumed at epoch ${resumeFrom.epoch + 1}, step ${resumeFrom.step})` : 'search');
  // A search that runs makes any finetuning of an earlier search stale.
  rmSync(ctx.run.path('finetune.bin'), { force: true });
  const t0 = performance.now();
  const r = await runSearchLoop(ctx.strategy, ctx.settings, {
    net: sn.net, gates: sn.gates, data, teacher: teacher.model, budget: sn.budget === undefined ? undefined : sn.budget - sn.fixed,
    searchable: sn.searchable, fixedRelus: sn.fixed, seed: ctx.recipe.seed,
    latency: { table: ctx.table, ...(ctx.recipe.latency.network ? { network: ctx.recipe.latency.network } : {}), allowUnpriced: ctx.recipe.latency.allowUnpriced },
  }, {
    ...ctx.opts.hooks?.search, onLog: (l) => logTo(ctx, l, ctx.opts.hooks?.search?.onLog), onCheckpoint: (s) => saveSearchState(stateFile, s, stateKey),
    // Every step's loss and count go to log.jsonl, so a loss spike is on record where it happened.
    onStep: (e) => {
      ctx.run.log({ type: 'search-step', ...e });
      ctx.opts.hooks?.search?.onStep?.(e);
    },
  }, resumeFrom);
  recordResolved(ctx, r.resolved);
  const searched = { countBeforeProjection: r.countBeforeProjection, projected: r.projectedTest, searchSeconds: (performance.now() - t0) / 1000 };
  const meta: SearchCheckpointMeta = {
    kind: 'polynas-search', strategy: ctx.strategy.name, ...(sn.budget !== undefined ? { budget: sn.budget } : {}), countBefore: searched.countBeforeProjection,
    projected: searched.projected, searchSeconds: searched.searchSeconds, settings, sites: Object.fromEntries(sn.gates.map((g) => [g.path, g.gate.toSite()])), resolved: r.resolved,
  };
  saveCheckpoint(file, { meta, tensors: sn.net.stateDict() });
  removeSearchState(stateFile);
  return searched;
}

/** Finetuning with the decisions frozen (distilled from the teacher unless the recipe turns it off). */
async function finetunePhase(ctx: SearchRunContext, sn: Supernet, data: Data, teacher: Teacher): Promise<{ final: EvalResult; finetuneSeconds: number }> {
  ctx.phase('finetune');
  const ft = ctx.recipe.finetune;
  const r = await fit(sn.net, data, trainConfigOf(trainRecipeOf(ctx.recipe, ft), data.train.labels.length), {
    checkpointPath: ctx.run.path('finetune.bin'), resume: !!ctx.opts.resume,
    hooks: { ...ctx.opts.hooks?.train, onLog: (l) => logTo(ctx, l, ctx.opts.hooks?.train?.onLog) },
    ...(ft.distill ? { distill: { teacher: teacher.model } } : {}),
  });
  if (!r.completed) throw new RunStoppedError('finetune', ctx.opts.outDir);
  return { final: r.final!, finetuneSeconds: r.trainSeconds };
}

/** `architecture.json` + weights, with the normalized recipe embedded. */
function exportPhase(ctx: SearchRunContext, sn: Supernet, data: Data, m: { teacherEval: EvalResult; searched: Searched; finetuned: EvalResult }): Architecture {
  ctx.phase('export');
  const { recipe } = ctx;
  const arch = toArchitecture(sn.net, sn.gates, {
    space: ctx.space, strategy: ctx.strategy.name, seed: recipe.seed, normalization: data.norm, table: ctx.table,
    ...(sn.budget !== undefined ? { budget: sn.budget } : {}), ...(recipe.latency.network ? { network: recipe.latency.network } : {}),
    ...(ctx.settings.countMaxPool ? { countMaxPool: true } : {}),
    recipe: recorded({ ...recipe, resolved: ctx.resolved }, ctx.opts.outDir),
    metrics: { teacherTop1: m.teacherEval.top1, projectedTop1: m.searched.projected.top1, finetunedTop1: m.finetuned.top1, finetunedTop5: m.finetuned.top5, countBeforeProjection: m.searched.countBeforeProjection },
  });
  writeArchitecture(ctx.run.path('architecture'), arch, sn.net);
  return arch;
}

/** `result.json` and `summary.md`. */
function summarize(ctx: SearchRunContext, sn: Supernet, architecture: Architecture, m: { teacherEval: EvalResult; searched: Searched; final: EvalResult; finetuneSeconds: number }): SearchRun {
  const lat = latencySummary(architecture);
  const result: SearchResultFile = {
    outDir: ctx.opts.outDir, ...(sn.budget !== undefined ? { budget: sn.budget } : {}), countBeforeProjection: m.searched.countBeforeProjection, relus: architecture.relus.total,
    teacher: m.teacherEval, projected: m.searched.projected, finetuned: m.final, searchSeconds: m.searched.searchSeconds, finetuneSeconds: m.finetuneSeconds,
    strategy: ctx.strategy.name, seed: ctx.recipe.seed, ...(lat ? { latency: lat } : {}),
  };
  ctx.run.writeJson('result.json', result);
  ctx.run.writeText('summary.md', summarizeSearchRun(ctx.recipe.name, architecture, result));
  ctx.run.log({ type: 'end', relus: result.relus, finetuned: m.final });
  return { ...result, architecture, recipe: ctx.recipe };
}
