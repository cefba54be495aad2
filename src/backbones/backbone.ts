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

/** ReLU count of one site for a given input size. */
export interface SiteReluCount {
  path: string;
  shape: number[];
  relus: number;
  stem: boolean;
}

/** Result of {@link Backbone.reluCount}. */
export interface ReluReport {
  total: number;
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
   * Exact number of ReLUs per sample for an input size. The stem activation is left out unless
   * `countStem` is true (the convention of SNL and AutoReP).
   *
   * @example
   * ```ts
   * createBackbone('resnet18', { numClasses: 10 }).reluCount().total; // 491520
   * ```
   */
  reluCount(opts: { inputShape?: readonly number[]; countStem?: boolean } = {}): ReluReport {
    this.trace(opts.inputShape ?? this.inputShape);
    const perSite = this.sites()
      .filter(({ site }) => site.kind === 'activation')
      .map(({ path, site }) => ({ path, shape: [...site.inputShape!], relus: site.reluCount(), stem: site.stem }));
    const total = perSite.filter((s) => opts.countStem || !s.stem).reduce((a, s) => a + s.relus, 0);
    return { total, perSite };
  }
}
