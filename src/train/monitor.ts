import { Backbone } from '../backbones/backbone.js';
import type { ImageDataset } from '../data/dataset.js';
import { batches, type Normalization } from '../data/loader.js';
import { tf } from '../engine/tf.js';
import type { Module } from '../nn/module.js';

/** Sample count of the batch on which activation ranges are measured. */
const RANGE_BATCH = 64;

/** The largest |activation| at every site on the first test batch, and the worst site. */
export interface ActivationReport {
  ranges: { path: string; absMax: number }[];
  /** The site with the largest |output| (a NaN output counts as the largest). */
  worst: { path: string; absMax: number };
}

/**
 * Measures every site's largest |output| on the first `RANGE_BATCH` test images (eval mode), so a
 * run's log shows a polynomial escaping its range (an exploding activation) before the loss does.
 * Undefined for a model without sites.
 *
 * @example
 * ```ts
 * activationReport(net, data.test, data.norm)?.worst; // { path: 'stages.2.2.act2', absMax: 41.3 }
 * ```
 */
export function activationReport(model: Module, test: ImageDataset, norm: Normalization): ActivationReport | undefined {
  if (!(model instanceof Backbone) || test.labels.length === 0) return undefined;
  const b = batches(test, { batchSize: Math.min(RANGE_BATCH, test.labels.length), norm }).next().value!;
  const x = tf.tensor4d(b.x, [b.n, ...test.shape]);
  try {
    const ranges = model.activationRanges(x);
    const key = (r: { absMax: number }) => (Number.isNaN(r.absMax) ? Infinity : r.absMax);
    const worst = ranges.reduce((a, r) => (key(r) > key(a) ? r : a), ranges[0] ?? { path: '', absMax: 0 });
    return { ranges, worst };
  } finally {
    x.dispose();
  }
}
