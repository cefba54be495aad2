import { tf } from '../engine/tf.js';
import type { Module } from '../nn/module.js';
import type { ImageDataset } from '../data/dataset.js';
import { batches, type Normalization } from '../data/loader.js';

/** Accuracy and loss of a classifier on a dataset. */
export interface EvalResult {
  top1: number;
  top5: number;
  loss: number;
  n: number;
}

/**
 * Evaluates `model` in eval mode (running BN statistics) on every sample of `ds`; restores the mode.
 *
 * @example
 * ```ts
 * const { top1 } = evaluate(net, test, { norm, batchSize: 256 });
 * ```
 */
export function evaluate(model: Module, ds: ImageDataset, opts: { norm: Normalization; batchSize?: number }): EvalResult {
  const wasTraining = model.training;
  model.eval();
  let correct1 = 0;
  let correct5 = 0;
  let lossSum = 0;
  try {
    for (const b of batches(ds, { batchSize: opts.batchSize ?? 256, norm: opts.norm })) {
      const [h, w, c] = ds.shape;
      const stats = tf.tidy(() => {
        const logits = model.forward(tf.tensor4d(b.x, [b.n, h, w, c]));
        const labels = tf.tensor1d(b.y, 'int32');
        const k = Math.min(5, logits.shape[1]!);
        const { indices } = tf.topk(logits, k);
        const hit = tf.cast(tf.equal(indices, tf.expandDims(labels, 1)), 'float32');
        const top1 = tf.sum(tf.slice(hit, [0, 0], [-1, 1]));
        const topk = tf.sum(hit);
        const logp = tf.logSoftmax(logits as tf.Tensor2D);
        const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]!), logp)));
        return tf.stack([top1, topk, nll]);
      });
      const [c1, c5, l] = stats.dataSync();
      stats.dispose();
      correct1 += c1!;
      correct5 += c5!;
      lossSum += l!;
    }
  } finally {
    model.train(wasTraining);
  }
  const n = ds.labels.length;
  return { top1: correct1 / n, top5: correct5 / n, loss: lossSum / n, n };
}
