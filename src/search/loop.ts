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
import type { EpochDetails, SearchContext, SearchStrategy, SectionBase, StepInput, StepReport } from './strategy.js';

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

/** Observers and controls of a search (the library never prints). */
export interface SearchHooks {
  onStep?(e: SearchStepEvent): void;
  onEpoch?(e: SearchEpoch): void;
  /** Structured records for the run's `log.jsonl`. */
  onLog?(r: Record<string, unknown>): void;
  /** Stops the search after the current step with a {@link SearchStoppedError}. */
  signal?: AbortSignal;
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

/**
 * The one search loop every strategy runs in: epochs of steps (each inside `tf.tidy`, with a yield
 * to the event loop and the abort check after it), per-epoch evaluation and record, then the
 * strategy's discretization and the evaluation of the discretized network.
 *
 * ```
 * init ─> for each epoch: [ batches ─> tidy(step) ─> yield, abort? ] ─> epochEnd ─> evaluate
 *      ─> discretize (project onto B, freeze) ─> evaluate
 * ```
 *
 * @example
 * ```ts
 * const r = await runSearchLoop(getStrategy('autorep'), settings, ctx, { onEpoch: (e) => console.log(e.count) });
 * ```
 */
export async function runSearchLoop<S extends SectionBase, St>(strategy: SearchStrategy<S, St>, settings: S, ctx: SearchContext, hooks: SearchHooks = {}): Promise<SearchResult> {
  checkContext(strategy, ctx);
  const perEpoch = strategy.stepsPerEpoch(ctx, settings);
  const totalSteps = perEpoch * settings.epochs;
  const state = strategy.init(ctx, settings, { perEpoch, total: totalSteps });
  const { test, norm } = ctx.data;
  const shape = ctx.data.train.shape;
  const history: SearchEpoch[] = [];
  let step = 0;
  ctx.net.train();
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum: number | undefined;
      for (const host of strategy.batches(state, epoch)) {
        const info = { epoch, step, totalSteps };
        let report: StepReport = {};
        tf.tidy(() => {
          report = strategy.step(state, host.map((b) => toInput(b, shape)), info);
        });
        if (report.loss !== undefined) {
          if (!Number.isFinite(report.loss)) throw new SearchDivergedError(report.loss, epoch, step);
          lossSum = (lossSum ?? 0) + report.loss;
        }
        step++;
        hooks.onStep?.({ epoch, step, totalSteps, ...report });
        await yieldToEventLoop();
        if (hooks.signal?.aborted) throw new SearchStoppedError(epoch, step);
      }
      const count = keptRelus(ctx.gates);
      const end = strategy.epochEnd?.(state, { epoch, count }) ?? {};
      const ranges = activationReport(ctx.net, test, norm);
      const ev: SearchEpoch = {
        epoch, count, ...end.details, ...(lossSum !== undefined ? { loss: lossSum / perEpoch } : {}),
        ...(ranges ? { maxActivation: ranges.worst } : {}), test: evaluate(ctx.net, test, { norm }), seconds: (performance.now() - t0) / 1000,
      };
      if (ranges) hooks.onLog?.({ type: 'activation-ranges', epoch, ranges: ranges.ranges });
      history.push(ev);
      hooks.onEpoch?.(ev);
      hooks.onLog?.({ type: 'search-epoch', strategy: strategy.name, ...ev });
      if (end.stop) break;
    }
  } finally {
    strategy.dispose(state);
  }
  const fixed = ctx.fixedRelus ?? 0;
  const countBeforeProjection = keptRelus(ctx.gates) + fixed;
  strategy.discretize(state, ctx.budget);
  const count = keptRelus(ctx.gates) + fixed;
  const projectedTest = evaluate(ctx.net, test, { norm });
  const budget = ctx.budget === undefined ? undefined : ctx.budget + fixed;
  hooks.onLog?.({ type: 'projection', before: countBeforeProjection, after: count, budget, test: projectedTest });
  return { history, countBeforeProjection, count, projectedTest, resolved: strategy.resolved?.(state) ?? {} };
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
  const basis = budgetBasis(ctx.net, ctx.gates);
  const budget = settings.budget === undefined ? undefined : networkBudget(settings.budget, basis).gates;
  return runSearchLoop(strategy, settings, { ...ctx, budget, searchable: basis.searchable, fixedRelus: basis.fixed }, hooks);
}
