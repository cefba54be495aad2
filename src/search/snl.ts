import { tf } from '../engine/tf.js';
import type { Module } from '../nn/module.js';
import { batches } from '../data/loader.js';
import type { TrainData } from '../train/trainer.js';
import { crossEntropy, distillationLoss } from '../train/losses.js';
import { evaluate, type EvalResult } from '../train/metrics.js';
import { Adam } from '../train/optim.js';
import type { PlacedGate } from '../supernet/build.js';
import { keptRelus } from './autorep.js';
import { projectToBudget } from './budget.js';
import type { SearchStepEvent } from './darts.js';

/** Settings of an SNL search (Cho et al., ICML'22). */
export interface SnlConfig {
  /** Maximum epochs; the search stops as soon as the count reaches the budget. */
  epochs: number;
  batchSize: number;
  budget: number;
  /** Adam learning rate of the weights. Default 1e-3. */
  lr?: number;
  /**
   * Adam learning rate of α (default: `lr`, as in SNL). α starts at 1 and must fall below 0.01 to
   * remove a ReLU, so a short search needs a larger α rate than the weights.
   */
  alphaLr?: number;
  /** Initial λ of the L1 term λ·Σ|α|/N; ×1.1 after an epoch in which the count did not improve. Default 1. */
  lambda?: number;
  temperature?: number;
  distillWeight?: number;
  seed: number;
}

export interface SnlResult {
  history: { epoch: number; count: number; lambda: number; test: EvalResult }[];
  countBeforeProjection: number;
  countAfterProjection: number;
  projectedTest: EvalResult;
}

/**
 * SNL: continuous α per pixel or channel (gates in `continuous` mode), loss
 * `CE + KD + λ·Σ|α|/N`; after each epoch the count #(α > 0.01) is taken, λ grows by 1.1 when the
 * count did not improve, and the search stops once count ≤ B. Then α is frozen to [α > 0.01] and
 * projected exactly onto the budget (highest α kept).
 *
 * @example
 * ```ts
 * const { gates } = buildMaskSupernet(net, loadSearchSpace('resnet18-snl-pixel'), { seed: 0, mode: 'continuous' });
 * const r = await snlSearch(net, gates, data, { epochs: 100, batchSize: 128, budget: 12_900, alphaLr: 0.01, seed: 0 }, { teacher });
 * ```
 */
export async function snlSearch(net: Module, gates: readonly PlacedGate[], data: TrainData, config: SnlConfig, opts: { teacher?: Module; hooks?: { onStep?(e: SearchStepEvent): void; onEpoch?(e: { epoch: number; count: number; lambda: number; test: EvalResult }): void; signal?: AbortSignal } } = {}): Promise<SnlResult> {
  for (const g of gates) if (g.gate.mode !== 'continuous') throw new Error(`snl: gate '${g.path}' is not in continuous mode (build the supernet with mode 'continuous')`);
  const { train, test, norm } = data;
  const [h, w, c] = train.shape;
  const total = gates.reduce((a, g) => a + g.gate.siteSize(), 0);
  const weights = net.namedParameters('weight');
  const alphas = net.namedParameters('arch');
  const vars = [...weights, ...alphas].map(([, v]) => v);
  const opt = new Adam(weights, { type: 'adam' });
  const alphaOpt = new Adam(alphas, { type: 'adam' });
  let lambda = config.lambda ?? 1;
  let best = Infinity;
  const history: SnlResult['history'] = [];
  net.train();
  const perEpoch = Math.floor(train.labels.length / config.batchSize);
  let step = 0;
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const lam = lambda;
      for (const batch of batches(train, { batchSize: config.batchSize, norm, shuffle: true, seed: config.seed, epoch, dropLast: true })) {
        tf.tidy(() => {
          const x = tf.tensor4d(batch.x, [batch.n, h, w, c]);
          const y = tf.tensor1d(batch.y, 'int32');
          const t = opts.teacher ? opts.teacher.forward(x) : undefined;
          const { grads } = tf.variableGrads(() => {
            const logits = net.forward(x);
            let loss: tf.Tensor = crossEntropy(logits, y);
            if (t) loss = tf.add(loss, tf.mul(distillationLoss(logits, t, config.temperature ?? 4), config.distillWeight ?? 1));
            const l1 = tf.div(tf.addN(gates.map((g) => g.gate.expectedRelus())), total);
            return tf.add(loss, tf.mul(l1, lam)) as tf.Scalar;
          }, vars);
          // Each optimizer updates only its own collection.
          opt.step(grads, config.lr ?? 1e-3);
          alphaOpt.step(grads, config.alphaLr ?? config.lr ?? 1e-3);
        });
        opts.hooks?.onStep?.({ epoch, step: ++step, totalSteps: perEpoch * config.epochs });
        await new Promise<void>((r) => setImmediate(r));
        if (opts.hooks?.signal?.aborted) throw new Error('search stopped (interrupted); run again with --resume to search afresh');
      }
      const count = keptRelus(gates);
      if (count >= best) lambda *= 1.1;
      best = Math.min(best, count);
      history.push({ epoch, count, lambda, test: evaluate(net, test, { norm }) });
      opts.hooks?.onEpoch?.(history[history.length - 1]!);
      if (count <= config.budget) break;
    }
  } finally {
    opt.dispose();
    alphaOpt.dispose();
  }
  const countBeforeProjection = keptRelus(gates);
  // Freeze to [α > 0.01] by projecting the α scores, the budget bounding the count exactly.
  const thresholded = gates.map((g) => g.gate.scores().map((a) => (a > 0.01 ? a : -Infinity)));
  const { keep, count } = projectToBudget(
    gates.map((g, i) => ({ scores: () => Float32Array.from(thresholded[i]!), unitSize: () => g.gate.unitSize(), freeze: (k: ArrayLike<number>) => g.gate.freeze(k) })),
    config.budget,
  );
  gates.forEach((g, i) => g.gate.freeze(keep[i]!));
  return { history, countBeforeProjection, countAfterProjection: count, projectedTest: evaluate(net, test, { norm }) };
}
