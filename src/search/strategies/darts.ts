import { z } from 'zod';
import { tf } from '../../engine/tf.js';
import { batches, seededSplit } from '../../data/loader.js';
import { subset, type ImageDataset } from '../../data/dataset.js';
import { costLayers } from '../../latency/network.js';
import { resolveNetwork } from '../../latency/cost.js';
import { candidateCosts, expectedCost } from '../../latency/expected.js';
import { costChoices, type PlacedGate } from '../../supernet/gate.js';
import type { DartsGate } from '../../supernet/darts-gate.js';
import { clipByGlobalNorm, crossEntropy } from '../../train/losses.js';
import { Adam, Sgd } from '../../train/optim.js';
import { learningRate } from '../../train/schedule.js';
import { projectAndFreeze } from '../budget.js';
import { SearchDivergedError } from '../errors.js';
import type { SearchContext, SearchStrategy, StepInput, StepInfo } from '../strategy.js';
import { AugmentSetting, resolveAugment } from './common.js';
import { unrolledArchGrads } from './hvp.js';

/** θ Adam betas of DARTS (Liu et al.; quark0/darts `architect.py`: `betas=(0.5, 0.999)`). */
const ARCH_BETAS = { beta1: 0.5, beta2: 0.999 };

/** The `search` section of a DARTS recipe (defaults: DARTS / PASNet CIFAR settings). */
export const DartsSection = z.strictObject({
  strategy: z.literal('darts'),
  /** 1: first-order DARTS; 2: unrolled second order (PASNet Algorithm 1). Default 1. */
  order: z.union([z.literal(1), z.literal(2)]).default(1),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  /** Weight SGD (DARTS): lr 0.025 cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient clip 5. */
  lr: z.number().positive().default(0.025),
  minLr: z.number().min(0).default(0.001),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).default(3e-4),
  clipNorm: z.number().positive().default(5),
  /** θ Adam (DARTS): lr 3e-4, weight decay 1e-3. */
  archLr: z.number().positive().default(3e-4),
  archWeightDecay: z.number().min(0).default(1e-3),
  /** λ_lat: weight of the expected latency (relative to the all-first-candidate network) in the search loss. Default 0. */
  latencyWeight: z.number().min(0).default(0),
  /** λ_relu: weight of the ReLU-budget hinge λ·max(0, E[ReLUs] − B)/N (needs `budget`). Default 0. */
  reluWeight: z.number().min(0).default(0),
  /** Optional exact ReLU budget of the whole network for the discretization (count, fraction of all its ReLUs, or 0); absent: argmax per gate. */
  budget: z.number().min(0).optional(),
  /** Count max-pool comparisons against the budget: a pool gate keeping MaxPool then costs its comparisons. Default false. */
  countMaxPool: z.boolean().default(false),
  /** Augmentation of both halves' batches. Default `auto`: random crop (pad 4) and flip for images ≥ 32 pixels (quark0/darts `train_search.py`); none for smaller ones. */
  augment: AugmentSetting.default('auto'),
});
export type DartsSettings = z.output<typeof DartsSection>;

interface DartsState {
  ctx: SearchContext;
  s: DartsSettings;
  gates: readonly PlacedGate<DartsGate>[];
  halves: { train: ImageDataset; search: ImageDataset };
  weights: [string, tf.Variable][];
  wVars: tf.Variable[];
  aVars: tf.Variable[];
  wOpt: Sgd;
  aOpt: Adam;
  schedule: { type: 'cosine'; lr: number; minLr: number };
  /** Each gate's candidate costs under the latency table, and the all-first-candidate total. */
  costs: number[][];
  latRef: number;
  /** ReLUs of the gates with a ReLU candidate (the hinge's denominator). */
  totalRelus: number;
}

/** The training set split in halves: weights ω train on one, θ on the other (DARTS). */
function halves(ctx: SearchContext) {
  const n = ctx.data.train.labels.length;
  const { a, b } = seededSplit(n, Math.floor(n / 2), ctx.seed);
  return { train: subset(ctx.data.train, a, `${ctx.data.train.name}/train-half`), search: subset(ctx.data.train, b, `${ctx.data.train.name}/search-half`) };
}

/** Every gate's candidates priced by the latency table at its site (0 without a table). */
function candidateCostsOf(ctx: SearchContext, gates: readonly PlacedGate<DartsGate>[]): number[][] {
  if (!ctx.latency) return gates.map((g) => g.gate.names.map(() => 0));
  const layers = costLayers(ctx.net, costChoices(gates));
  const network = resolveNetwork(ctx.latency.table, ctx.latency.network ? { network: ctx.latency.network } : {});
  return gates.map((g) => {
    const layer = layers.find((l) => l.path === g.path);
    return layer ? candidateCosts(layer, g.gate.names, ctx.latency!.table, network, { allowUnpriced: ctx.latency!.allowUnpriced ?? false }) : g.gate.names.map(() => 0);
  });
}

/** Expected latency (relative) and expected ReLUs of the current θ. */
function expected(st: DartsState) {
  const lat = tf.div(expectedCost(st.gates.map((g, i) => ({ probs: g.gate.probs(), costs: st.costs[i]! }))), st.latRef);
  const relus = tf.addN(st.gates.map((g) => g.gate.expectedRelus()));
  return { lat, relus };
}

/** L_search = CE + λ_lat·E[latency]/latency_ref (+ λ_relu·max(0, E[ReLUs] − B)/N). */
function searchLoss(st: DartsState, x: tf.Tensor, y: tf.Tensor) {
  return (): tf.Scalar => {
    let loss: tf.Tensor = crossEntropy(st.ctx.net.forward(x), y);
    const { lat, relus } = expected(st);
    if (st.s.latencyWeight) loss = tf.add(loss, tf.mul(lat, st.s.latencyWeight));
    const B = st.ctx.budget;
    if (st.s.reluWeight && B !== undefined) loss = tf.add(loss, tf.mul(tf.relu(tf.div(tf.sub(relus, B), st.totalRelus)), st.s.reluWeight));
    return loss as tf.Scalar;
  };
}

function step(st: DartsState, [t, s]: StepInput[], info: StepInfo) {
  const lr = learningRate(st.schedule, info.step, info.totalSteps);
  const trainLoss = () => crossEntropy(st.ctx.net.forward(t!.x), t!.y);
  const sLoss = searchLoss(st, s!.x, s!.y);
  // Phase 1, architecture step: ∇θ L_search(ω, θ) (first order) or the unrolled gradient (second order).
  const archGrads = st.s.order === 1 ? tf.variableGrads(sLoss, st.aVars).grads : unrolledArchGrads(st.ctx.net, st.wOpt, { weights: st.weights, wVars: st.wVars, aVars: st.aVars, momentum: st.s.momentum, weightDecay: st.s.weightDecay }, trainLoss, sLoss, lr);
  st.aOpt.step(archGrads, st.s.archLr);
  // Phase 2, weight step: ∇ω L_train on the other half, clipped.
  const { grads } = tf.variableGrads(trainLoss, st.wVars);
  st.wOpt.step(clipByGlobalNorm(grads, st.s.clipNorm).grads, lr);
  return {};
}

/**
 * DARTS (PASNet Algorithm 1): weights ω and architecture parameters θ trained alternately on the two
 * halves of the training set, with the expected latency under the recipe's table in the search loss.
 * Discretization: argmax per gate, or the exact projection onto a ReLU budget.
 */
export const darts: SearchStrategy<DartsSettings, DartsState> = {
  name: 'darts',
  summary: 'DARTS softmax gates over every candidate, latency-aware (PASNet), first or second order',
  section: DartsSection,
  gate: 'darts',
  needsBudget: false,
  // The smaller half has ⌊n/2⌋ images.
  stepsPerEpoch: (ctx, s) => Math.floor(Math.floor(ctx.data.train.labels.length / 2) / s.batchSize),
  normalize: (s, env) => ({ ...s, augment: resolveAugment(s.augment, env.imageShape) }),
  supernet: (s) => ({ countMaxPool: s.countMaxPool }),
  batches({ ctx, s, halves: h }, epoch) {
    const perEpoch = Math.floor(Math.min(h.train.labels.length, h.search.labels.length) / s.batchSize);
    const augment = resolveAugment(s.augment, ctx.data.train.shape);
    const common = { batchSize: s.batchSize, norm: ctx.data.norm, shuffle: true, epoch, dropLast: true, ...(augment ? { augment } : {}) };
    const tIt = batches(h.train, { ...common, seed: ctx.seed });
    const sIt = batches(h.search, { ...common, seed: ctx.seed + 1 });
    return (function* () {
      for (let b = 0; b < perEpoch; b++) yield [tIt.next().value!, sIt.next().value!];
    })();
  },
  init(ctx, s) {
    const gates = ctx.gates as readonly PlacedGate<DartsGate>[]; // a darts supernet holds DARTS gates (gate: 'darts')
    const weights = ctx.net.namedParameters('weight');
    const archs = ctx.net.namedParameters('arch');
    const costs = candidateCostsOf(ctx, gates);
    return {
      ctx, s, gates, halves: halves(ctx), weights,
      wVars: weights.map(([, v]) => v), aVars: archs.map(([, v]) => v),
      wOpt: new Sgd(weights, { type: 'sgd', momentum: s.momentum, weightDecay: s.weightDecay }),
      aOpt: new Adam(archs, { type: 'adam', ...ARCH_BETAS, weightDecay: s.archWeightDecay }),
      schedule: { type: 'cosine', lr: s.lr, minLr: s.minLr },
      costs, latRef: costs.reduce((a, c) => a + (c[0] ?? 0), 0) || 1,
      totalRelus: gates.reduce((a, g) => a + g.gate.searchableRelus(), 0) || 1,
    };
  },
  step,
  epochEnd(st, e) {
    const [expectedRelus, expectedLatency] = tf.tidy(() => {
      const e = expected(st);
      return [e.relus.dataSync()[0]!, e.lat.dataSync()[0]!];
    });
    // θ that stopped being finite would be exported as null: stop here instead.
    if (!Number.isFinite(expectedLatency) || !Number.isFinite(expectedRelus)) throw new SearchDivergedError(NaN, e.epoch, NaN);
    return { details: { expectedRelus, expectedLatency, choices: Object.fromEntries(st.gates.map((g) => [g.path, g.gate.choice()])) } };
  },
  discretize(st, budget) {
    if (budget !== undefined) projectAndFreeze(st.gates, budget);
    else for (const g of st.gates) g.gate.choose(g.gate.choice());
  },
  snapshot: (st) => ({ optimizers: { weights: st.wOpt.state(), arch: st.aOpt.state() }, values: {} }),
  restore(st, snap) {
    st.wOpt.loadState(snap.optimizers.weights!);
    st.aOpt.loadState(snap.optimizers.arch!);
  },
  dispose(st) {
    st.wOpt.dispose();
    st.aOpt.dispose();
  },
};
