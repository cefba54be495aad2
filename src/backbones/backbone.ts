import { tf } from '../engine/tf.js';
import { Module } from '../nn/module.js';
import { Site } from '../nn/site.js';

/** Options every backbone constructor takes. */
export interface BackboneOptions {
  /** Number of output classes. */
  numClasses: number;
  /** Seed of the parameter initialisation. Default 0. */
  seed?: number;
  /** Per-sample input shape `[H,W,C]`; default: the backbone's own (32×32×3 for CIFAR nets). */
  inputShape?: [number, number, number];
}

/** Secure comparisons of one site for a given input size. */
export interface SiteReluCount {
  path: string;
  kind: 'activation' | 'pool';
  shape: number[];
  /** ReLUs the site's operator evaluates per sample. */
  relus: number;
  /** Max-pool comparisons per sample (v − 1 per window of v valid inputs). */
  comparisons: number;
  stem: boolean;
}

/** Result of {@link Backbone.reluCount}. */
export interface ReluReport {
  /** ReLU evaluations per sample of the whole network, the stem's included. */
  total: number;
  /** Max-pool comparisons per sample, reported beside the ReLUs (budgets include them only on request). */
  comparisons: number;
  perSite: SiteReluCount[];
}

/**
 * A classification network whose activation and pooling places are {@link Site}s, addressable by
 * dotted path. `forward` maps `[B,H,W,C]` to logits `[B,numClasses]`.
 */
export abstract class Backbone extends Module {
  /** Registry name, e.g. `resnet20`. */
  abstract readonly arch: string;
  /** Default per-sample input shape `[H,W,C]`. */
  abstract readonly inputShape: [number, number, number];
  abstract readonly numClasses: number;

  /** All sites with their paths, in forward order. */
  sites(): { path: string; site: Site }[] {
    return this.namedModules()
      .filter((e): e is [string, Site] => e[1] instanceof Site)
      .map(([path, site]) => ({ path, site }));
  }

  /**
   * Runs one zero sample through the network in eval mode so that every site records its input
   * shape for `inputShape` (default: the backbone's own). Restores the previous mode.
   */
  trace(inputShape: readonly number[] = this.inputShape): void {
    const wasTraining = this.training;
    this.eval();
    try {
      tf.tidy(() => {
        this.forward(tf.zeros([1, ...inputShape]));
      });
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * The largest |output| of every site on a batch, in eval mode (the mode is restored): a polynomial
   * escaping its range shows here long before the loss turns non-finite. NaN marks a non-finite output.
   *
   * @example
   * ```ts
   * net.activationRanges(x).sort((a, b) => b.absMax - a.absMax)[0]; // { path: 'stages.2.2.act2', absMax: 41.3 }
   * ```
   */
  activationRanges(x: tf.Tensor): { path: string; absMax: number }[] {
    const sites = this.sites();
    const wasTraining = this.training;
    this.eval();
    for (const { site } of sites) site.probedMax = 0;
    try {
      tf.tidy(() => void this.forward(x));
      return sites.map(({ path, site }) => ({ path, absMax: site.probedMax! }));
    } finally {
      for (const { site } of sites) delete site.probedMax;
      this.train(wasTraining);
    }
  }

  /**
   * Exact number of ReLU evaluations per sample for an input size: every activation site counts,
   * the stem's included (a CIFAR ResNet without a stem ReLU is the `-nostem` backbone). Max-pool
   * comparisons are reported beside the total.
   *
   * @example
   * ```ts
   * createBackbone('resnet18', { numClasses: 10 }).reluCount().total; // 557056
   * createBackbone('resnet18-nostem', { numClasses: 10 }).reluCount().total; // 491520 (SNL/AutoReP)
   * ```
   */
  reluCount(opts: { inputShape?: readonly number[] } = {}): ReluReport {
    this.trace(opts.inputShape ?? this.inputShape);
    const perSite = this.sites().map(({ path, site }) => ({
      path, kind: site.kind, shape: [...site.inputShape!], relus: site.reluCount(), comparisons: site.comparisons(), stem: site.stem,
    }));
    return { total: perSite.reduce((a, s) => a + s.relus, 0), comparisons: perSite.reduce((a, s) => a + s.comparisons, 0), perSite };
  }
}
