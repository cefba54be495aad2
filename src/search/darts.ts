import { tf } from '../engine/tf.js';
import type { Backbone } from '../backbones/backbone.js';
import { AvgPool2d, MaxPool2d, ReLU } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { ActivationSite, PoolSite } from '../nn/site.js';
import { batches, seededSplit, type Normalization } from '../data/loader.js';
import { subset, type ImageDataset } from '../data/dataset.js';
import { crossEntropy } from '../train/losses.js';
import { clipByGlobalNorm } from '../train/losses.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { Adam, Sgd, type GradMap } from '../train/optim.js';
import { learningRate } from '../train/schedule.js';
import { costLayers } from '../latency/network.js';
import { resolveNetwork } from '../latency/cost.js';
import { candidateCosts, expectedCost } from '../latency/expected.js';
import type { LatencyTable } from '../latency/schema.js';
import { selectSites, type SearchSpace } from '../spec/space.js';
import { buildActivationOp } from '../supernet/build.js';
import { DartsGate } from '../supernet/darts-gate.js';
import { projectToBudget } from './budget.js';

/** Progress of one search step (every strategy). */
export interface SearchStepEvent {
  epoch: number;
  /** Steps done, 1-based. */
  step: number;
  totalSteps: number;
}

/** A DARTS gate at a site with its candidates' costs under the latency table. */
export interface PlacedDartsGate {
  path: string;
  gate: DartsGate;
  costs: number[];
}

/**
 * Places DARTS gates (softmax over candidates) at the selected activation sites (`layer`
 * granularity) and pooling sites of `net`, and prices every candidate with the latency table
 * (`candidateCosts`, the model that also prices the export).
 *
 * @example
 * ```ts
 * const { gates } = buildDartsSupernet(net, loadSearchSpace('resnet20-layer'), loadLatencyTable('crypten-2pc-dealer'), 'WAN');
 * gates[0].costs; // [relu cost, x2act cost] of that site under the table
 * ```
 */
export function buildDartsSupernet(net: Backbone, space: SearchSpace, table?: LatencyTable, network?: string): { net: Backbone; gates: PlacedDartsGate[] } {
  if (space.backbone !== net.arch) throw new Error(`search space '${space.name}' is for backbone '${space.backbone}', not '${net.arch}'`);
  const layers = costLayers(net);
  const net_ = table ? resolveNetwork(table, network ? { network } : {}) : undefined;
  const gates: PlacedDartsGate[] = [];
  const costsAt = (path: string, ops: string[]) => {
    const layer = layers.find((l) => l.path === path);
    return table && layer ? candidateCosts(layer, ops, table, net_) : ops.map(() => 0);
  };
  const act = space.activation;
  if (act) {
    if (act.granularity !== 'layer') throw new Error(`search space '${space.name}': the darts strategy decides per site ('layer' granularity), not per ${act.granularity}`);
    const sites = net.sites().filter((s) => s.site instanceof ActivationSite && (act.includeStem || !s.site.stem));
    const chosen = new Set(selectSites(act.sites, sites.map((s) => s.path), 'activation.sites'));
    for (const { path, site } of sites) {
      if (!chosen.has(path)) continue;
      const shape = site.inputShape!;
      const ops: Module[] = act.candidates.map((c) => (c === 'relu' ? new ReLU() : buildActivationOp(c, shape, act)));
      const gate = new DartsGate(act.candidates, ops, shape);
      site.setOp(gate).dispose();
      gates.push({ path, gate, costs: costsAt(path, [...act.candidates]) });
    }
  }
  const pool = space.pool;
  if (pool) {
    const sites = net.sites().filter((s) => s.site instanceof PoolSite);
    const chosen = new Set(selectSites(pool.sites, sites.map((s) => s.path), 'pool.sites'));
    for (const { path, site } of sites) {
      if (!chosen.has(path)) continue;
      const p = site as PoolSite;
      const ops = pool.candidates.map((c) => (c === 'maxpool' ? new MaxPool2d(p.kernel, p.stride, p.pad) : new AvgPool2d(p.kernel, p.stride, p.pad)));
      const gate = new DartsGate(pool.candidates, ops, site.inputShape!);
      site.setOp(gate).dispose();
      gates.push({ path, gate, costs: costsAt(path, [...pool.candidates]) });
    }
  }
  if (!gates.length) throw new Error(`search space '${space.name}' selects no site of ${net.arch}`);
  return { net, gates };
}

/**
 * Finite-difference Hessian-vector product of DARTS' second-order step (Liu et al.; PASNet Alg. 1):
 * `(∇θ L(ω + εv) − ∇θ L(ω − εv)) / (2ε)` with ε = 0.01/‖v‖, evaluated at the ORIGINAL weights ω
 * (which are restored afterwards). Returns gradients keyed by θ variable name.
 *
 * @example
 * ```ts
 * const hvp = hessianVectorProduct(() => loss(x, y), weightVars, archVars, v);
 * hvp[archVars[0].name].print();
 * ```
 */
export function hessianVectorProduct(loss: () => tf.Scalar, weights: tf.Variable[], arch: tf.Variable[], v: tf.Tensor[]): GradMap {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(v.map((t) => tf.sum(tf.square(t))))).dataSync()[0]!);
  const eps = 0.01 / Math.max(norm, 1e-12);
  const orig = weights.map((w) => tf.clone(w));
  const shifted = (sign: number): GradMap => {
    weights.forEach((w, i) => w.assign(tf.tidy(() => tf.add(orig[i]!, tf.mul(v[i]!, sign * eps)))));
    return tf.variableGrads(loss, arch).grads;
  };
  const plus = shifted(1);
  const minus = shifted(-1);
  weights.forEach((w, i) => w.assign(orig[i]!));
  orig.forEach((t) => t.dispose());
  const out: GradMap = {};
  for (const a of arch) {
    out[a.name] = tf.tidy(() => tf.div(tf.sub(plus[a.name]!, minus[a.name]!), 2 * eps));
    plus[a.name]!.dispose();
    minus[a.name]!.dispose();
  }
  return out;
}

/** Settings of a DARTS search (defaults: PASNet / DARTS CIFAR settings). */
export interface DartsConfig {
  epochs: number;
  batchSize: number;
  /** 1: first-order; 2: unrolled second-order with the finite-difference Hessian-vector product. */
  order: 1 | 2;
  /** Weight SGD: lr 0.025 cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient clip 5. */
  lr?: number;
  minLr?: number;
  momentum?: number;
  weightDecay?: number;
  clipNorm?: number;
  /** θ Adam: lr 3e-4, betas (0.5, 0.999), weight decay 1e-3. */
  archLr?: number;
  archWeightDecay?: number;
  /**
   * Weight of the latency term in the search loss: λ_lat · E[latency] / latency(all-first-candidate),
   * i.e. the expected latency relative to the all-ReLU/all-MaxPool network.
   */
  latencyWeight?: number;
  /** Optional ReLU budget term λ_relu · max(0, E[ReLUs] − B)/N (with `budget`). */
  reluWeight?: number;
  /** Exact budget for the discretization (count ≤ B); absent: plain argmax per gate. */
  budget?: number;
  seed: number;
}

export interface DartsEpoch {
  epoch: number;
  expectedRelus: number;
  expectedLatency: number;
  choices: Record<string, string>;
  test: EvalResult;
  seconds: number;
}

export interface DartsResult {
  history: DartsEpoch[];
  reluCount: number;
  countBeforeProjection: number;
  test: EvalResult;
}

/**
 * DARTS search (PASNet Algorithm 1): the training set is split in halves, weights ω are trained on
 * one and architecture parameters θ on the other, alternately. Each iteration takes an
 * architecture step (first order: ∇θ L_search(ω, θ); second order: the unrolled gradient
 * ∇θ L_search(ω′, θ) − ξ·HVP with ω′ = ω − ξ(momentum·buf + ∇ω L_train + wd·ω)) and then a weight
 * step. L_search includes λ_lat · Σ_gates Σ_k softmax(θ)_k·lat_k relative to the all-first-candidate
 * latency. Discretization: argmax per gate, or the exact projection onto a ReLU budget.
 *
 * @example
 * ```ts
 * const r = await dartsSearch(net, gates, data, { epochs: 2, batchSize: 64, order: 2, latencyWeight: 1, seed: 0 });
 * console.log(r.reluCount, r.history.at(-1)?.expectedLatency);
 * ```
 */
export async function dartsSearch(
  net: Module,
  gates: readonly PlacedDartsGate[],
  data: { train: ImageDataset; test: ImageDataset; norm: Normalization },
  config: DartsConfig,
  hooks: { onStep?(e: SearchStepEvent): void; onEpoch?(e: DartsEpoch): void; onLog?(r: Record<string, unknown>): void; signal?: AbortSignal } = {},
): Promise<DartsResult> {
  const { a: trainIdx, b: searchIdx } = seededSplit(data.train.labels.length, Math.floor(data.train.labels.length / 2), config.seed);
  const trainHalf = subset(data.train, trainIdx, `${data.train.name}/train-half`);
  const searchHalf = subset(data.train, searchIdx, `${data.train.name}/search-half`);
  const [h, w, c] = data.train.shape;
  const weights = net.namedParameters('weight');
  const archs = net.namedParameters('arch');
  const wVars = weights.map(([, v]) => v);
  const aVars = archs.map(([, v]) => v);
  const momentum = config.momentum ?? 0.9;
  const wd = config.weightDecay ?? 3e-4;
  const wOpt = new Sgd(weights, { type: 'sgd', momentum, weightDecay: wd });
  const aOpt = new Adam(archs, { type: 'adam', beta1: 0.5, beta2: 0.999, weightDecay: config.archWeightDecay ?? 1e-3 });
  const schedule = { type: 'cosine' as const, lr: config.lr ?? 0.025, minLr: config.minLr ?? 0.001 };
  const perEpoch = Math.floor(Math.min(trainHalf.labels.length, searchHalf.labels.length) / config.batchSize);
  const totalSteps = perEpoch * config.epochs;
  const latRef = gates.reduce((a, g) => a + (g.costs[0] ?? 0), 0) || 1;
  const totalRelus = gates.reduce((a, g) => a + (g.gate.names.includes('relu') ? g.gate.siteSize() : 0), 0) || 1;
  const expected = () => {
    const lat = tf.div(expectedCost(gates.map((g) => ({ probs: g.gate.probs(), costs: g.costs }))), latRef);
    const relus = tf.addN(gates.map((g) => g.gate.expectedRelus()));
    return { lat, relus };
  };
  const searchLossOf = (x: tf.Tensor, y: tf.Tensor) => (): tf.Scalar => {
    let loss: tf.Tensor = crossEntropy(net.forward(x), y);
    const { lat, relus } = expected();
    if (config.latencyWeight) loss = tf.add(loss, tf.mul(lat, config.latencyWeight));
    if (config.reluWeight && config.budget !== undefined) loss = tf.add(loss, tf.mul(tf.relu(tf.div(tf.sub(relus, config.budget), totalRelus)), config.reluWeight));
    return loss as tf.Scalar;
  };
  const history: DartsEpoch[] = [];
  let step = 0;
  net.train();
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const t0 = performance.now();
      const tIt = batches(trainHalf, { batchSize: config.batchSize, norm: data.norm, shuffle: true, seed: config.seed, epoch, dropLast: true });
      const sIt = batches(searchHalf, { batchSize: config.batchSize, norm: data.norm, shuffle: true, seed: config.seed + 1, epoch, dropLast: true });
      for (let b = 0; b < perEpoch; b++) {
        const tb = tIt.next().value!;
        const sb = sIt.next().value!;
        const lr = learningRate(schedule, step, totalSteps);
        tf.tidy(() => {
          const xt = tf.tensor4d(tb.x, [tb.n, h, w, c]);
          const yt = tf.tensor1d(tb.y, 'int32');
          const xs = tf.tensor4d(sb.x, [sb.n, h, w, c]);
          const ys = tf.tensor1d(sb.y, 'int32');
          const trainLoss = () => crossEntropy(net.forward(xt), yt);
          const searchLoss = searchLossOf(xs, ys);
          // Architecture step.
          let archGrads: GradMap;
          if (config.order === 1) archGrads = tf.variableGrads(searchLoss, aVars).grads;
          else archGrads = unrolledArchGrads(net, wVars, aVars, weights.map(([p]) => p), wOpt, trainLoss, searchLoss, lr, momentum, wd);
          aOpt.step(archGrads, config.archLr ?? 3e-4);
          // Weight step.
          const { grads } = tf.variableGrads(trainLoss, wVars);
          const clipped = clipByGlobalNorm(grads, config.clipNorm ?? 5).grads;
          wOpt.step(clipped, lr);
        });
        step++;
        hooks.onStep?.({ epoch, step, totalSteps });
        await new Promise<void>((r) => setImmediate(r));
        if (hooks.signal?.aborted) throw new Error('search stopped (interrupted); run again with --resume to search afresh');
      }
      const [er, el] = tf.tidy(() => {
        const e = expected();
        return [e.relus.dataSync()[0]!, e.lat.dataSync()[0]!];
      });
      const ev: DartsEpoch = {
        epoch, expectedRelus: er, expectedLatency: el, choices: Object.fromEntries(gates.map((g) => [g.path, g.gate.choice()])),
        test: evaluate(net, data.test, { norm: data.norm }), seconds: (performance.now() - t0) / 1000,
      };
      history.push(ev);
      hooks.onEpoch?.(ev);
      hooks.onLog?.({ type: 'darts-epoch', ...ev });
    }
  } finally {
    wOpt.dispose();
    aOpt.dispose();
  }
  const countBeforeProjection = gates.reduce((a, g) => a + g.gate.reluCount(), 0);
  if (config.budget !== undefined) {
    const { keep } = projectToBudget(gates.map((g) => g.gate), config.budget);
    gates.forEach((g, i) => g.gate.freeze(keep[i]!));
  } else for (const g of gates) g.gate.choose(g.gate.choice());
  const reluCount = gates.reduce((a, g) => a + g.gate.reluCount(), 0);
  return { history, reluCount, countBeforeProjection, test: evaluate(net, data.test, { norm: data.norm }) };
}

/** The unrolled (second-order) architecture gradient; weights and BN statistics are restored. */
function unrolledArchGrads(
  net: Module, wVars: tf.Variable[], aVars: tf.Variable[], paths: string[], wOpt: Sgd,
  trainLoss: () => tf.Scalar, searchLoss: () => tf.Scalar, xi: number, momentum: number, wd: number,
): GradMap {
  const orig = wVars.map((v) => tf.keep(tf.clone(v)));
  const buffers = net.namedBuffers().map(([, b]) => [b, tf.keep(tf.clone(b))] as const);
  // Virtual step ω′ = ω − ξ(momentum·buf + ∇ω L_train(ω) + wd·ω).
  const gTrain = tf.variableGrads(trainLoss, wVars).grads;
  wVars.forEach((v, i) => {
    const buf = wOpt.momentumBuffer(paths[i]!);
    const g = tf.add(gTrain[v.name]!, tf.mul(v, wd));
    const moment = buf ? tf.mul(buf, momentum) : tf.zerosLike(v);
    v.assign(tf.sub(v, tf.mul(tf.add(moment, g), xi)));
  });
  // ∇θ L_search(ω′) and v = ∇ω′ L_search(ω′).
  const g2 = tf.variableGrads(searchLoss, [...aVars, ...wVars]).grads;
  wVars.forEach((v, i) => v.assign(orig[i]!));
  const vec = wVars.map((v) => g2[v.name]!);
  // HVP at the ORIGINAL weights.
  const hvp = hessianVectorProduct(trainLoss, wVars, aVars, vec);
  const out: GradMap = {};
  for (const a of aVars) out[a.name] = tf.sub(g2[a.name]!, tf.mul(hvp[a.name]!, xi));
  for (const [b, copy] of buffers) {
    b.assign(copy);
    copy.dispose();
  }
  orig.forEach((t) => t.dispose());
  return out;
}
