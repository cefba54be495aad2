import { tf } from '../engine/tf.js';
import type { Module } from '../nn/module.js';
import { batchCount, batches } from '../data/loader.js';
import type { TrainData } from '../train/trainer.js';
import { crossEntropy, distillationLoss } from '../train/losses.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { Adam } from '../train/optim.js';
import { learningRate } from '../train/schedule.js';
import type { PlacedGate } from '../supernet/build.js';
import { projectToBudget } from './budget.js';

/** Settings of an AutoReP mask search (defaults from the AutoReP CIFAR scripts where they exist). */
export interface AutorepConfig {
  epochs: number;
  batchSize: number;
  /** Absolute ReLU budget B (per sample). */
  budget: number;
  /** Adam learning rate of the weights, cosine-decayed to `minLr`. Default 1e-3 → 1e-5. */
  lr?: number;
  minLr?: number;
  /**
   * Adam learning rate of α_aux (constant). Default max(lr, 2/annealSteps): Adam moves each α by about its
   * learning rate per step, so this lets an α initialised in U(0,1) cross the hysteresis band within
   * the annealing phase however short the search is.
   */
  alphaLr?: number;
  /** Initial weight λ of the budget hinge; adapted every step (×1.2 while the count overshoots the target, up to 1e6). Default 5. */
  lambda?: number;
  /**
   * Fraction of the search over which the target count is annealed linearly from all ReLUs down
   * to B (then held at B), so no hand-tuned λ per budget is needed. Default 0.6.
   */
  annealFraction?: number;
  /** Distillation temperature (AutoReP: 4) and weight (1). */
  temperature?: number;
  distillWeight?: number;
  /** Re-fit polynomial coefficients by DaPa every this many steps, until step `dapaUntil` (AutoReP: 10, 508). */
  dapaEvery?: number;
  dapaUntil?: number;
  /** Multipliers of the DaPa coefficients c0, c1, c2, … (default {@link AUTOREP_DAPA_DAMPING}). */
  dapaDamping?: readonly number[];
  seed: number;
}

export interface SearchEpoch {
  epoch: number;
  /** Kept ReLUs per sample under the current masks. */
  count: number;
  target: number;
  lambda: number;
  loss: number;
  test: EvalResult;
  seconds: number;
}

export interface AutorepResult {
  history: SearchEpoch[];
  /** ReLUs kept at the end of the search, before and after the exact projection onto B. */
  countBeforeProjection: number;
  countAfterProjection: number;
  /** Test metrics right after projection (before finetuning). */
  projectedTest: EvalResult;
}

/**
 * Default DaPa damping of AutoReP searches: c0 × 1/5 and c2 × 1/10, as AutoReP's released code. An
 * undamped L2 fit of ReLU makes the quadratics steep enough that a ResNet's residual stream blows up
 * once a few percent of its ReLUs are replaced (ResNet-20, CIFAR-10 subset, 60 steps at a 5 %
 * budget: search loss ~1e5 and 9 % test accuracy undamped, ~3 and 45 % damped).
 */
export const AUTOREP_DAPA_DAMPING: readonly number[] = [0.2, 1, 0.1];

export interface SearchHooks {
  /** Every 10 steps (and the last), with the kept ReLU count and the annealed target. */
  onStep?(e: { epoch: number; step: number; totalSteps: number; loss: number; count: number; target: number }): void;
  /** After every step (cheap: no count); benchmarks time steps with it. */
  onBatch?(step: number): void;
  /** Stops the search after the current step (it is not resumable mid-way; the run folder keeps the teacher). */
  signal?: AbortSignal;
  onEpoch?(e: SearchEpoch): void;
  onLog?(r: Record<string, unknown>): void;
}

/**
 * Current kept-ReLU count over all gates.
 *
 * @example
 * ```ts
 * keptRelus(gates); // ReLUs per sample the masks keep now
 * ```
 */
export function keptRelus(gates: readonly PlacedGate[]): number {
  return gates.reduce((a, g) => a + g.gate.reluCount(), 0);
}

/**
 * AutoReP search (Peng et al., ICCV'23): masks with hysteresis and a straight-through gradient,
 * trained jointly with the weights under `CE + KD + λ·max(0, Σm − target)/N`, polynomials
 * DaPa-initialised from the site statistics. polynas differs from the paper in two ways that
 * remove hand tuning: the target is annealed from N to B over the search, and λ adapts to the gap;
 * at the end the masks are projected exactly onto the budget (count ≤ B) and frozen.
 *
 * @example
 * ```ts
 * const { gates } = buildMaskSupernet(net, loadSearchSpace('resnet20-pixel'), { seed: 0 });
 * const r = await autorepSearch(net, gates, data, { epochs: 3, batchSize: 64, budget: 8_601, seed: 0 }, { teacher });
 * console.log(r.countBeforeProjection, r.countAfterProjection); // … ≤ 8601
 * ```
 */
export async function autorepSearch(
  net: Module,
  gates: readonly PlacedGate[],
  data: TrainData,
  config: AutorepConfig,
  opts: { teacher?: Module; hooks?: SearchHooks } = {},
): Promise<AutorepResult> {
  const hooks = opts.hooks ?? {};
  const { train, test, norm } = data;
  const [h, w, c] = train.shape;
  const total = gates.reduce((a, g) => a + g.gate.siteSize(), 0);
  const B = config.budget;
  const perEpoch = batchCount(train.labels.length, config.batchSize, true);
  const totalSteps = perEpoch * config.epochs;
  const annealSteps = Math.max(1, Math.round((config.annealFraction ?? 0.6) * totalSteps));
  const weights = net.namedParameters('weight');
  const alphas = net.namedParameters('arch');
  const vars = [...weights, ...alphas].map(([, v]) => v);
  const opt = new Adam(weights, { type: 'adam' });
  const alphaOpt = new Adam(alphas, { type: 'adam' });
  const lr0 = config.lr ?? 1e-3;
  const schedule = { type: 'cosine' as const, lr: lr0, minLr: config.minLr ?? 1e-5 };
  const alphaLr = config.alphaLr ?? Math.max(lr0, 2 / annealSteps);
  const T = config.temperature ?? 4;
  let lambda = config.lambda ?? 5;
  const history: SearchEpoch[] = [];
  let step = 0;
  net.train();
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let target = total;
      for (const batch of batches(train, { batchSize: config.batchSize, norm, shuffle: true, seed: config.seed, epoch, dropLast: true, augment: { cropPad: h >= 32 ? 4 : 0, flip: h >= 32 } })) {
        target = B + (total - B) * Math.max(0, 1 - step / annealSteps);
        const dapaActive = config.dapaEvery !== 0 && step <= (config.dapaUntil ?? 500);
        if (dapaActive && step === 0) {
          // Calibrate: the sites' input statistics of a first batch, so the first DaPa fit matches
          // the real activations (BatchNorm statistics untouched: the rest of the net runs in eval).
          net.eval();
          for (const g of gates) {
            g.gate.train();
            g.gate.collectStats = true;
          }
          tf.tidy(() => void net.forward(tf.tensor4d(batch.x, [batch.n, h, w, c])));
          net.train();
        }
        if (dapaActive && step % (config.dapaEvery ?? 10) === 0) for (const g of gates) g.gate.refreshDapa(config.dapaDamping ?? AUTOREP_DAPA_DAMPING);
        for (const g of gates) g.gate.collectStats = dapaActive;
        const lr = learningRate(schedule, step, totalSteps);
        const lam = lambda;
        const tgt = target;
        // [loss, kept ReLUs of this step's masks]: one read per step for the loss and the λ update.
        const lossT = tf.tidy(() => {
          let kept: tf.Tensor | undefined;
          const x = tf.tensor4d(batch.x, [batch.n, h, w, c]);
          const y = tf.tensor1d(batch.y, 'int32');
          const teacherLogits = opts.teacher ? opts.teacher.forward(x) : undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = net.forward(x);
            let loss: tf.Tensor = crossEntropy(logits, y);
            if (teacherLogits) loss = tf.add(loss, tf.mul(distillationLoss(logits, teacherLogits, T), config.distillWeight ?? 1));
            kept = tf.keep(tf.addN(gates.map((g) => g.gate.expectedRelus())));
            const hinge = tf.relu(tf.div(tf.sub(kept, tgt), total));
            return tf.add(loss, tf.mul(hinge, lam)) as tf.Scalar;
          }, vars);
          // Weight step and architecture step (AutoReP trains both jointly on the same batch).
          opt.step(grads, lr);
          alphaOpt.step(grads, alphaLr);
          const out = tf.stack([value, kept!]);
          kept!.dispose();
          return out;
        });
        const [loss, count] = Array.from(lossT.dataSync()) as [number, number];
        lossT.dispose();
        if (!Number.isFinite(loss)) throw new Error(`search diverged: loss ${loss} at epoch ${epoch}, step ${step}`);
        lossSum += loss;
        step++;
        hooks.onBatch?.(step);
        await new Promise<void>((r) => setImmediate(r));
        if (hooks.signal?.aborted) throw new Error('search stopped (interrupted); run again with --resume to search afresh');
        // λ follows the gap every step: ×1.2 while the count overshoots the target by > 2 % (up to
        // 1e6), ÷1.2 down to its initial value while it undershoots by > 2 %. Per-pixel hinge
        // gradients are λ/N, so a short search on a large network needs λ in the thousands; growing
        // every step gets there in tens of steps, where AutoReP's fixed hand-set λ needs 200 epochs.
        if (count > target * 1.02) lambda = Math.min(lambda * 1.2, 1e6);
        else if (count < target * 0.98) lambda = Math.max(config.lambda ?? 5, lambda / 1.2);
        if (step % 10 === 0 || step === totalSteps) hooks.onStep?.({ epoch, step, totalSteps, loss, count, target });
      }
      const count = keptRelus(gates);
      const ev: SearchEpoch = { epoch, count, target, lambda, loss: lossSum / perEpoch, test: evaluate(net, test, { norm }), seconds: (performance.now() - t0) / 1000 };
      history.push(ev);
      hooks.onEpoch?.(ev);
      hooks.onLog?.({ type: 'search-epoch', ...ev });
    }
  } finally {
    opt.dispose();
    alphaOpt.dispose();
  }
  const countBeforeProjection = keptRelus(gates);
  const { keep, count } = projectToBudget(gates.map((g) => g.gate), B);
  gates.forEach((g, i) => g.gate.freeze(keep[i]!));
  const projectedTest = evaluate(net, test, { norm });
  hooks.onLog?.({ type: 'projection', before: countBeforeProjection, after: count, budget: B, test: projectedTest });
  return { history, countBeforeProjection, countAfterProjection: count, projectedTest };
}
