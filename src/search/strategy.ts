import type { z } from 'zod';
import type { tf } from '../engine/tf.js';
import type { Backbone } from '../backbones/backbone.js';
import type { Module } from '../nn/module.js';
import type { HostBatch } from '../data/loader.js';
import type { LatencyTable } from '../latency/schema.js';
import type { SearchSpace } from '../spec/space.js';
import type { GateKind, PlacedGate } from '../supernet/gate.js';
import type { MaskRuleName } from '../supernet/mask-rules.js';
import type { TrainData } from '../train/trainer.js';
import type { Optimizer } from '../train/optim.js';

/** What a resumed search needs of a strategy besides the network's tensors: optimizer states and controller values. */
export interface StrategySnapshot {
  optimizers: Record<string, ReturnType<Optimizer['state']>>;
  values: Record<string, number>;
}

/** What every strategy's recipe section has: its name, the budget, the length of the search. */
export interface SectionBase {
  strategy: string;
  /** ReLU budget of the whole network: a count (≥ 1), a fraction (< 1) of all its ReLUs, or 0 (all-polynomial). */
  budget?: number;
  /** Max-pool comparisons count against the budget. */
  countMaxPool?: boolean;
  epochs: number;
  batchSize: number;
}

/** What a strategy's step, epoch end and discretization see. */
export interface SearchContext {
  net: Backbone;
  gates: readonly PlacedGate[];
  data: TrainData;
  /** Distillation teacher (fixed, eval mode). */
  teacher?: Module;
  /**
   * The gates' share of the ReLU budget: the network budget B minus {@link SearchContext.fixedRelus}
   * (undefined: a strategy that discretizes without one).
   */
  budget: number | undefined;
  /** ReLUs the gates can keep at most. */
  searchable: number;
  /** ReLUs outside the gates (sites the space leaves out); they count against B. Default 0. */
  fixedRelus?: number;
  seed: number;
  /** The latency table of the recipe (a latency-aware strategy prices its candidates with it). */
  latency?: { table: LatencyTable; network?: string; allowUnpriced?: boolean };
}

/** Where the loop is. */
export interface StepInfo {
  epoch: number;
  /** Steps done before this one (0-based). */
  step: number;
  totalSteps: number;
}

/** The host-side figures a step read back (a strategy reads only what it needs: each read syncs). */
export interface StepReport {
  loss?: number;
  count?: number;
  target?: number;
}

/** A batch as tensors. */
export interface StepInput {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** What a strategy adds to an epoch's record. */
export interface EpochDetails {
  target?: number;
  lambda?: number;
  expectedRelus?: number;
  expectedLatency?: number;
  choices?: Record<string, string>;
}

/** What the dataset and space decide about a recipe section before anything runs. */
export interface NormalizeEnv {
  space: SearchSpace;
  /** Per-sample image shape `[H, W, C]` of the dataset. */
  imageShape: readonly [number, number, number];
}

/**
 * A search strategy: its recipe section (every default declared on the schema field, with its
 * source), the gates it searches, and the three things the shared loop ({@link runSearchLoop}) asks
 * of it: a step, an epoch end, and the discretization. Adding a strategy: one file in
 * `strategies/` and one line in `strategies/index.ts`.
 */
export interface SearchStrategy<S extends SectionBase = SectionBase, State = unknown> {
  readonly name: string;
  /** One line for docs and `--help`. */
  readonly summary: string;
  /** The recipe's `search` section for this strategy (`strategy: z.literal(name)`). */
  readonly section: z.ZodType<S>;
  readonly gate: GateKind;
  /** Mask gates: the rule by which α decides. */
  readonly maskRule?: MaskRuleName;
  /** Whether the section's budget is required. */
  readonly needsBudget: boolean;
  /** Settings of the gates (e.g. the hysteresis threshold). */
  supernet?(settings: S): { threshold?: number; countMaxPool?: boolean };
  /** Fills in what the dataset and space decide (recorded in the normalized recipe). */
  normalize?(settings: S, env: NormalizeEnv): S;
  /** Optimizers and controller state; called once before the first step. */
  init(ctx: SearchContext, settings: S, steps: { perEpoch: number; total: number }): State;
  /** Optimizer steps per epoch. */
  stepsPerEpoch(ctx: SearchContext, settings: S): number;
  /** The host batches of one epoch's steps (one batch per input, e.g. DARTS' train and search halves). */
  batches(state: State, epoch: number): Iterable<HostBatch[]>;
  /** One step, run inside `tf.tidy` by the loop. */
  step(state: State, inputs: StepInput[], info: StepInfo): StepReport;
  /** After each epoch's steps (before evaluation): details for the record, and whether to stop. */
  epochEnd?(state: State, e: { epoch: number; count: number }): { details?: EpochDetails; stop?: boolean };
  /** Fixes every gate's decisions (exact budget projection or argmax). */
  discretize(state: State, budget: number | undefined): void;
  /** Values derived from the data or the schedule (written to the run's `resolved` block). */
  resolved?(state: State): Record<string, number>;
  /**
   * The state a checkpoint needs (optimizers, controller values). With {@link SearchStrategy.restore},
   * a stopped or killed search resumes to the same result as an uninterrupted one.
   */
  snapshot?(state: State): StrategySnapshot;
  /** Puts a snapshot back into a freshly `init`ed state. */
  restore?(state: State, snap: StrategySnapshot): void;
  dispose(state: State): void;
}

const STRATEGIES = new Map<string, SearchStrategy<SectionBase, unknown>>();
let version = 0;

/**
 * Registers a search strategy; registering a name twice throws.
 *
 * @example
 * ```ts
 * registerStrategy(myStrategy); // recipes with "search": { "strategy": "mine", … } validate and run from now on
 * ```
 */
export function registerStrategy<S extends SectionBase, St>(s: SearchStrategy<S, St>): void {
  if (STRATEGIES.has(s.name)) throw new Error(`search strategy '${s.name}' is already registered`);
  STRATEGIES.set(s.name, s as unknown as SearchStrategy<SectionBase, unknown>);
  version++;
}

/** Removes a strategy (tests and plugins). */
export function unregisterStrategy(name: string): void {
  if (STRATEGIES.delete(name)) version++;
}

/**
 * The registered strategy `name`; an unknown name lists the known ones.
 *
 * @example
 * ```ts
 * getStrategy('snl').gate; // 'mask'
 * ```
 */
export function getStrategy(name: string): SearchStrategy<SectionBase, unknown> {
  const s = STRATEGIES.get(name);
  if (!s) throw new Error(`unknown search strategy '${name}'; known: ${[...STRATEGIES.keys()].join(', ')}`);
  return s;
}

/** Registered strategy names, in registration order. */
export function strategyNames(): string[] {
  return [...STRATEGIES.keys()];
}

/** Every registered strategy. */
export function strategies(): SearchStrategy<SectionBase, unknown>[] {
  return [...STRATEGIES.values()];
}

/** Changes whenever a strategy is registered or removed. */
export function strategyRegistryVersion(): number {
  return version;
}
