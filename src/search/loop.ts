import { tf } from '../engine/tf.js';
import type { HostBatch } from '../data/loader.js';
import { keptRelus } from '../supernet/gate.js';
import { budgetBasis, networkBudget } from './budget.js';
import { getStrategy } from './strategy.js';
import './strategies/index.js';
import { SearchDivergedError, SearchStoppedError } from './errors.js';

export { SearchDivergedError, SearchStoppedError };
import { evaluate, type EvalResult } from '../train/metrics.js';
import { activationReport } from '../train/monitor.js';
import type { EpochDetails, SearchContext, SearchStrategy, SectionBase, StepInput, StepReport, StrategySnapshot } from './strategy.js';
import type { TensorState } from '../nn/module.js';

/** Progress of one search step (every strategy; `loss`, `count`, `target` where the strategy reads them). */
export interface SearchStepEvent extends StepReport {
  epoch: number;
  /** Steps done, 1-based. */
  step: number;
  totalSteps: number;
}

/** One epoch of a search. */
export interface SearchEpoch extends EpochDetails {
  epoch: number;
  /** ReLUs per sample the gates keep at the end of the epoch. */
  count: number;
  /** Mean step loss (strategies that read it back). */
  loss?: number;
  /** The site with the largest |activation| on the first test batch: an escaping polynomial shows here first. */
  maxActivation?: { path: string; absMax: number };
  test: EvalResult;
  seconds: number;
}

/**
 * Everything a search needs to go on from where it stopped: the position, the record so far, the
 * network's tensors (weights, α, masks, BatchNorm and gate statistics), the gates' host state and the
 * strategy's optimizers and controller values. Data order and augmentation derive from the seed,
 * epoch and batch index, so skipping the batches already done reproduces them.
 */
export interface SearchSnapshot {
  /** The epoch to continue, and the batches of it already done. */
  epoch: number;
  batch: number;
  /** Steps done in all. */
  step: number;
  lossSum?: number;
  history: SearchEpoch[];
  /** The strategy asked to stop early (SNL at the budget): only the discretization is left. */
  done: boolean;
  net: Record<string, TensorState>;
  gates: Record<string, Record<string, number>>;
  strategy: StrategySnapshot;
}

/** Observers and controls of a search (the library never prints). */
export interface SearchHooks {
  onStep?(e: SearchStepEvent): void;
  onEpoch?(e: SearchEpoch): void;
  /** Structured records for the run's `log.jsonl`. */
  onLog?(r: Record<string, unknown>): void;
  /** Stops the search after the current step with a {@link SearchStoppedError}. */
  signal?: AbortSignal;
  /**
   * Receives a {@link SearchSnapshot} after every epoch and when the search is stopped (strategies
   * with `snapshot`); pass it back as `resumeFrom` to continue.
   */
  onCheckpoint?(s: SearchSnapshot): void;
}

/** What every search returns. */
export interface SearchResult {
  history: SearchEpoch[];
  /** ReLUs of the network (gates and fixed sites) when the search ended, before the discretization. */
  countBeforeProjection: number;
  /** ReLUs per sample of the network after the discretization (≤ the network budget when there is one). */
  count: number;
  /** Test metrics right after the discretization (before finetuning). */
  projectedTest: EvalResult;
  /** Derived settings the strategy used (e.g. an automatic learning rate). */
  resolved: Record<string, number>;
}

function toInput(b: HostBatch, shape: readonly number[]): StepInput {
  return { x: tf.tensor4d(b.x, [b.n, shape[0]!, shape[1]!, shape[2]!]), y: tf.tensor1d(b.y, 'int32') };
}

/** The gates must be the strategy's kind (and rule), and a budgeted strategy needs its budget. */
function checkContext(s: Pick<SearchStrategy, 'name' | 'needsBudget' | 'gate' | 'maskRule'>, ctx: SearchContext): void {
  if (s.needsBudget && ctx.budget === undefined) throw new Error(`the ${s.name} strategy needs a budget`);
  if (ctx.budget !== undefined && !(Number.isInteger(ctx.budget) && ctx.budget >= 0 && ctx.budget <= ctx.searchable)) {
    throw new RangeError(`budget must be a whole count of ReLUs in [0, ${ctx.searchable}] (resolve a fraction with resolveBudget), got ${ctx.budget}`);
  }
  for (const { path, gate } of ctx.gates) {
    if (gate.gateKind !== s.gate) throw new Error(`the ${s.name} strategy searches ${s.gate} gates; site '${path}' holds a ${gate.gateKind} gate`);
    if (s.maskRule && gate.ruleName !== s.maskRule) throw new Error(`the ${s.name} strategy needs mask gates with the '${s.maskRule}' rule; site '${path}' has '${gate.ruleName}' (buildSupernet(…, { rule: '${s.maskRule}' }))`);
  }
}

/** Lets signals and timers run between steps. */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** The position and record of a running search (what a snapshot saves besides tensors). */
interface Progress {
  epoch: number;
  batch: number;
  step: number;
  lossSum: number | undefined;
  history: SearchEpoch[];
  done: boolean;
}

/** The snapshot of a search at `p` (undefined when the strategy cannot be snapshotted). */
function snapshotOf<St>(strategy: SearchStrategy<SectionBase, St>, state: St, ctx: SearchContext, p: Progress): SearchSnapshot | undefined {
  if (!strategy.snapshot) return undefined;
  const gates = Object.fromEntries(ctx.gates.flatMap(({ path, gate }) => (gate.hostState ? [[path, gate.hostState()]] : [])));
  const { lossSum, ...rest } = p;
  return { ...rest, ...(lossSum !== undefined ? { lossSum } : {}), history: [...p.history], net: ctx.net.stateDict(), gates, strategy: strategy.snapshot(state) };
}

/** Puts a snapshot back: tensors, gates' host state, the strategy's optimizers and values. */
function restoreSnapshot<St>(strategy: SearchStrategy<SectionBase, St>, state: St, ctx: SearchContext, snap: SearchSnapshot): Progress {
  if (!strategy.restore) throw new Error(`the ${strategy.name} strategy cannot resume a search`);
  ctx.net.loadStateDict(snap.net);
  for (const { path, gate } of ctx.gates) if (snap.gates[path]) gate.restoreHostState?.(snap.gates[path]!);
  strategy.restore(state, snap.strategy);
  return { epoch: snap.epoch, batch: snap.batch, step: snap.step, lossSum: snap.lossSum, history: [...snap.history], done: snap.done };
}

/** One epoch's steps from `p.batch` on; false when stopped through the signal (after a checkpoint). */
async function runEpoch<St>(run: LoopRun<St>, p: Progress): Promise<boolean> {
  const { strategy, state, ctx, hooks, totalSteps } = run;
  const shape = ctx.data.train.shape;
  let b = 0;
  for (const host of strategy.batches(state, p.epoch)) {
    // A resumed epoch regenerates its batches (order and augmentation derive from seed, epoch, index) and skips those done.
    if (b++ < p.batch) continue;
    const info = { epoch: p.epoch, step: p.step, totalSteps };
    let report: StepReport = {};
    tf.tidy(() => {
      report = strategy.step(state, host.map((x) => toInput(x, shape)), info);
    });
    if (report.loss !== undefined) {
      if (!Number.isFinite(report.loss)) throw new SearchDivergedError(report.loss, p.epoch, p.step);
      p.lossSum = (p.lossSum ?? 0) + report.loss;
    }
    p.step++;
    p.batch++;
    hooks.onStep?.({ epoch: p.epoch, step: p.step, totalSteps, ...report });
    await yieldToEventLoop();
    if (hooks.signal?.aborted) {
      checkpoint(run, p);
      return false;
    }
  }
  return true;
}

function checkpoint<St>(run: LoopRun<St>, p: Progress): void {
  if (!run.hooks.onCheckpoint) return;
  const snap = snapshotOf(run.strategy, run.state, run.ctx, p);
  if (snap) run.hooks.onCheckpoint(snap);
}

interface LoopRun<St> {
  strategy: SearchStrategy<SectionBase, St>;
  state: St;
  ctx: SearchContext;
  hooks: SearchHooks;
  totalSteps: number;
  perEpoch: number;
}

/** After an epoch: the strategy's record, the activation ranges and the test evaluation; true to stop. */
function endEpoch<St>(run: LoopRun<St>, p: Progress, t0: number): boolean {
  const { strategy, state, ctx, hooks } = run;
  const { test, norm } = ctx.data;
  const count = keptRelus(ctx.gates);
  const end = strategy.epochEnd?.(state, { epoch: p.epoch, count }) ?? {};
  const ranges = activationReport(ctx.net, test, norm);
  const ev: SearchEpoch = {
    epoch: p.epoch, count, ...end.details, ...(p.lossSum !== undefined ? { loss: p.lossSum / run.perEpoch } : {}),
    ...(ranges ? { maxActivation: ranges.worst } : {}), test: evaluate(ctx.net, test, { norm }), seconds: (performance.now() - t0) / 1000,
  };
  if (ranges) hooks.onLog?.({ type: 'activation-ranges', epoch: p.epoch, ranges: ranges.ranges });
  p.history.push(ev);
  hooks.onEpoch?.(ev);
  hooks.onLog?.({ type: 'search-epoch', strategy: strategy.name, ...ev });
  Object.assign(p, { epoch: p.epoch + 1, batch: 0, lossSum: undefined, done: !!end.stop });
  ctx.net.train();
  checkpoint(run, p);
  return !!end.stop;
}

/**
 * The one search loop every strategy runs in: epochs of steps (each inside `tf.tidy`, with a yield
 * to the event loop and the abort check after it), per-epoch evaluation and record, then the
 * strategy's discretization and the evaluation of the discretized network. With `resumeFrom` (a
 * {@link SearchSnapshot} from `hooks.onCheckpoint`), it continues where that search stopped and ends
 * with the same result as if it had never stopped.
 *
 * ```
 * init (, restore) ─> for each epoch: [ batches ─> tidy(step) ─> yield, abort? ─> checkpoint ] ─> epochEnd ─> evaluate ─> checkpoint
 *      ─> discretize (project onto B, freeze) ─> evaluate
 * ```
 *
 * @example
 * ```ts
 * const r = await runSearchLoop(getStrategy('autorep'), settings, ctx, { onEpoch: (e) => console.log(e.count) });
 * ```
 */
export async function runSearchLoop<S extends SectionBase, St>(strategy: SearchStrategy<S, St>, settings: S, ctx: SearchContext, hooks: SearchHooks = {}, resumeFrom?: SearchSnapshot): Promise<SearchResult> {
  checkContext(strategy, ctx);
  const perEpoch = strategy.stepsPerEpoch(ctx, settings);
  const totalSteps = perEpoch * settings.epochs;
  const state = strategy.init(ctx, settings, { perEpoch, total: totalSteps });
  const run: LoopRun<St> = { strategy: strategy as unknown as SearchStrategy<SectionBase, St>, state, ctx, hooks, totalSteps, perEpoch };
  let p: Progress = { epoch: 0, batch: 0, step: 0, lossSum: undefined, history: [], done: false };
  try {
    if (resumeFrom) p = restoreSnapshot(run.strategy, state, ctx, resumeFrom);
    ctx.net.train();
    while (!p.done && p.epoch < settings.epochs) {
      const t0 = performance.now();
      if (!(await runEpoch(run, p))) throw new SearchStoppedError(p.epoch, p.step);
      if (endEpoch(run, p, t0)) break;
    }
  } finally {
    strategy.dispose(state);
  }
  const fixed = ctx.fixedRelus ?? 0;
  const countBeforeProjection = keptRelus(ctx.gates) + fixed;
  strategy.discretize(state, ctx.budget);
  const count = keptRelus(ctx.gates) + fixed;
  const projectedTest = evaluate(ctx.net, ctx.data.test, { norm: ctx.data.norm });
  const budget = ctx.budget === undefined ? undefined : ctx.budget + fixed;
  hooks.onLog?.({ type: 'projection', before: countBeforeProjection, after: count, budget, test: projectedTest });
  return { history: p.history, countBeforeProjection, count, projectedTest, resolved: strategy.resolved?.(state) ?? {} };
}

/** What {@link searchSupernet} needs besides the section: the supernet, data, teacher, seed and latency table. */
export type SupernetSearch = Omit<SearchContext, 'budget' | 'searchable' | 'fixedRelus'>;

/**
 * Runs a registered strategy on a supernet from a recipe-style `search` section (defaults filled in
 * by the strategy's schema; the budget is of the whole network, a fraction of all its ReLUs, and the
 * gates get what the sites outside them leave: {@link networkBudget}).
 *
 * @example
 * ```ts
 * const gates = await buildSupernet(net, loadSearchSpace('lenet5-pixel'), { gate: 'mask', seed: 0 });
 * const r = await searchSupernet({ strategy: 'autorep', budget: 300, epochs: 1, batchSize: 64 }, { net, gates, data, teacher, seed: 0 });
 * r.count; // ≤ 300
 * ```
 */
export async function searchSupernet(section: { strategy: string } & Record<string, unknown>, ctx: SupernetSearch, hooks: SearchHooks = {}): Promise<SearchResult> {
  const strategy = getStrategy(section.strategy);
  const settings = strategy.section.parse(section);
  const basis = budgetBasis(ctx.net, ctx.gates, { countMaxPool: settings.countMaxPool ?? false });
  const budget = settings.budget === undefined ? undefined : networkBudget(settings.budget, basis).gates;
  return runSearchLoop(strategy, settings, { ...ctx, budget, searchable: basis.searchable, fixedRelus: basis.fixed }, hooks);
}
