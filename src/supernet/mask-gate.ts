import seedrandom from 'seedrandom';
import { tf } from '../engine/tf.js';
import { hysteresisMask } from '../engine/fused.js';
import { Module } from '../nn/module.js';
import { ReLU } from '../nn/layers.js';
import type { Granularity } from '../spec/space.js';
import { packMask, unpackMask, type ArchitectureSite, type MaskSite } from '../spec/architecture.js';
import { getOp } from '../ops/index.js';
import { ChannelPoly } from '../ops/poly.js';
import type { SiteChoice } from '../latency/network.js';
import type { Gate } from './gate.js';
import { hysteresisSte, type MaskRule } from './mask-rules.js';
import { GatheredActivation } from './deployed.js';
import type { SecureOpCounter } from '../nn/metered.js';

/** Options of {@link MaskGate}. */
export interface MaskGateOptions {
  granularity: Granularity;
  /** Hysteresis half-width t (AutoReP: 0.003). */
  threshold?: number;
  /** Seed of the U(0,1) initialisation of α_aux. */
  seed: number;
  /** How α decides while the search runs: {@link hysteresisSte} (AutoReP, default) or {@link continuousL1} (SNL). */
  rule?: MaskRule;
}

/**
 * AutoReP's per-element choice between ReLU and a cheap operator (a polynomial) at one site.
 *
 * - α_aux (architecture variable, one per decision: pixel `[H,W,C]`, channel `[C]`, layer `[1]`),
 *   initialised U(0,1); the binary mask m (a buffer) starts at 1.
 * - Before each training forward, hysteresis: where m = 1, m ← [α_aux > −t]; where m = 0,
 *   m ← [α_aux > t], so a decision flips only once α_aux crosses the band.
 * - Output `m·ReLU(x) + (1 − m)·op(x)`. Gradient to α_aux: softplus(α_aux)·∂L/∂m (straight-through).
 * - The gate also keeps running per-channel statistics of its input (a BatchNorm without affine
 *   parameters) from which a polynomial operator is DaPa-initialised.
 *
 * @example
 * ```ts
 * const gate = new MaskGate(await buildOp('poly2', { shape: [32, 32, 16] }), [32, 32, 16], { granularity: 'pixel', seed: 0 });
 * site.setOp(gate);
 * gate.reluCount(); // 16,384 until the search removes some
 * ```
 */
export class MaskGate extends Module implements Gate {
  readonly gateKind = 'mask' as const;
  readonly siteKind = 'activation' as const;
  readonly alpha: tf.Variable;
  readonly mask: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly relu: ReLU;
  readonly alt: Module;
  readonly granularity: Granularity;
  /** Hysteresis half-width t (a search may scale it to its α learning rate). */
  threshold: number;
  /** Common offset c of the hysteresis rule (m ← [α − c > ∓t]): a search that meets its count by shifting the band sets it. Default 0. */
  offset = 0;
  readonly rule: MaskRule;
  /** Per-sample input shape `[H,W,C]` (or `[F]`). */
  readonly siteShape: number[];
  private frozen = false;
  /** The cheap operator is fitted to the site's input statistics (its registry definition says so). */
  private readonly fitsStats: boolean;
  private collecting = true;
  private statsSeen = 0;

  constructor(alt: Module, siteShape: readonly number[], opts: MaskGateOptions) {
    super();
    this.siteShape = [...siteShape];
    this.granularity = opts.granularity;
    this.threshold = opts.threshold ?? 0.003;
    this.rule = opts.rule ?? hysteresisSte;
    if (!alt.opId) throw new Error('MaskGate: the cheap operator has no registry id (build it with buildOp)');
    this.fitsStats = getOp(alt.opId).collectsStats ?? false;
    const c = siteShape[siteShape.length - 1]!;
    const shape = this.decisionShape();
    const rand = seedrandom(`polynas-mask-${opts.seed}`);
    const n = tf.util.sizeFromShape(shape);
    this.alpha = this.param('alpha_aux', tf.tensor(Float32Array.from({ length: n }, () => this.rule.initAlpha(rand)), shape), 'arch');
    this.mask = this.buffer('mask', tf.ones(shape));
    this.runningMean = this.buffer('running_mean', tf.zeros([c]));
    this.runningVar = this.buffer('running_var', tf.ones([c]));
    this.relu = this.module('relu', new ReLU());
    this.alt = this.module('alt', alt);
  }

  /** Shape of the decision tensor. */
  decisionShape(): number[] {
    if (this.granularity === 'pixel') return [...this.siteShape];
    if (this.granularity === 'channel') return [this.siteShape[this.siteShape.length - 1]!];
    return [1];
  }

  /** Elements of the site governed by one decision. */
  unitSize(): number {
    return this.siteSize() / tf.util.sizeFromShape(this.decisionShape());
  }

  /** Elements per sample at this site. */
  siteSize(): number {
    return tf.util.sizeFromShape(this.siteShape);
  }

  get ruleName(): string {
    return this.rule.name;
  }

  searchableRelus(): number {
    return this.siteSize();
  }

  /**
   * Turns the collection of the site input's running statistics on or off (the search needs them
   * only while DaPa re-fits the polynomial; off saves a moments pass per step).
   */
  collectStatistics(on: boolean): void {
    this.collecting = on;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** The mask with a straight-through gradient to α_aux: value m, gradient softplus(α)·dy. */
  steMask(): tf.Tensor {
    const mask = this.mask;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([a]);
      return { value: tf.mul(mask, tf.onesLike(a)), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.softplus(saved[0]!)) };
    });
    return f(this.alpha);
  }

  /** Hysteresis update of the mask from α_aux (AutoReP). */
  updateMask(): void {
    if (this.frozen) return;
    const t = this.threshold;
    const c = this.offset;
    tf.tidy(() => this.mask.assign(hysteresisMask(this.mask, this.alpha, t, c)));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const searching = this.training && !this.frozen;
    // The rule may update the binary mask first (hysteresis), then the statistics of the input.
    const m = this.frozen ? this.mask : this.rule.forwardMask(this, this.training);
    if (searching && this.collecting && this.fitsStats) this.updateStats(x);
    // Over a polynomial, the whole gate is one fused kernel where the backend has it.
    const fused = this.alt instanceof ChannelPoly ? this.alt.fused(x, m) : undefined;
    if (fused) return fused;
    const mb = this.granularity === 'pixel' ? tf.expandDims(m, 0) : m;
    const a = this.alt.forward(x);
    return tf.add(a, tf.mul(mb, tf.sub(this.relu.forward(x), a)));
  }

  private updateStats(x: tf.Tensor): void {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    // The first batch replaces the N(0, 1) prior outright: a DaPa fit to the prior gives quadratics
    // far too steep for real activations, and the search's first steps then blow up.
    const m = this.statsSeen++ === 0 ? 1 : 0.1;
    tf.tidy(() => {
      const { mean, variance } = tf.moments(x, axes);
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, m)));
    });
  }

  /** Re-fits a polynomial operator to ReLU under the running statistics of the site input (DaPa). */
  refreshDapa(damping?: readonly number[]): void {
    if (!this.fitsStats) return;
    const poly = this.alt as Module & { initDapa(mean: ArrayLike<number>, variance: ArrayLike<number>, damping?: readonly number[]): void };
    poly.initDapa(this.runningMean.dataSync(), this.runningVar.dataSync(), damping);
  }

  /** Differentiable ReLU measure of the search loss (the rule's while searching, Σ m·unit once frozen). */
  expectedRelus(): tf.Scalar {
    if (!this.frozen) return this.rule.expectedRelus(this);
    return tf.tidy(() => tf.mul(tf.sum(this.steMask()), this.unitSize()) as tf.Scalar);
  }

  /** ReLUs per sample: the rule's count while searching, the binary mask once frozen. */
  reluCount(): number {
    if (!this.frozen) return this.rule.reluCount(this);
    return tf.tidy(() => tf.sum(this.mask).dataSync()[0]!) * this.unitSize();
  }

  /** Decision scores: higher keeps the ReLU. */
  scores(): Float32Array | Float64Array {
    return this.rule.scores(this);
  }

  /** Fixes the mask (1 = keep the ReLU) for finetuning and export; α_aux no longer matters. */
  freeze(keep: ArrayLike<number>): void {
    const n = tf.util.sizeFromShape(this.decisionShape());
    if (keep.length !== n) throw new Error(`MaskGate.freeze: ${keep.length} decisions for ${n}`);
    tf.tidy(() => this.mask.assign(tf.tensor(Float32Array.from(keep), this.decisionShape())));
    this.frozen = true;
  }

  /** The statistics counters (the first batch replaces the prior) and whether they are collected. */
  hostState(): Record<string, number> {
    return { statsSeen: this.statsSeen, collecting: this.collecting ? 1 : 0, threshold: this.threshold, offset: this.offset };
  }

  restoreHostState(s: Record<string, number>): void {
    this.statsSeen = s.statsSeen ?? 0;
    this.collecting = (s.collecting ?? 1) === 1;
    if (s.threshold !== undefined) this.threshold = s.threshold;
    if (s.offset !== undefined) this.offset = s.offset;
  }

  /** Unfreezes (hysteresis resumes). */
  unfreeze(): void {
    this.frozen = false;
  }

  costChoice(): SiteChoice {
    return { op: getOp(this.alt.opId!).costOp, keptRelus: this.reluCount() };
  }

  toSite(): MaskSite {
    const params = getOp(this.alt.opId!).exportParams?.(this.alt);
    return {
      gate: 'mask', kind: 'activation', op: this.alt.opId!, granularity: this.granularity, rule: this.rule.name, keptRelus: this.reluCount(),
      siteShape: [...this.siteShape], mask: packMask(this.mask.dataSync(), this.decisionShape()), ...(params !== undefined ? { params } : {}),
    };
  }

  /** Kept elements gathered through ReLU, the rest through the cheap operator ({@link GatheredActivation}). */
  deployed(counter: SecureOpCounter): Module {
    const m = this.mask.dataSync();
    const n = this.siteSize();
    const c = this.siteShape[this.siteShape.length - 1]!;
    const at = this.granularity === 'pixel' ? (i: number) => m[i]! : this.granularity === 'channel' ? (i: number) => m[i % c]! : () => m[0]!;
    return new GatheredActivation(Uint8Array.from({ length: n }, (_, i) => (at(i) > 0.5 ? 1 : 0)), this.alt, counter);
  }

  restore(site: ArchitectureSite): void {
    if (site.gate !== 'mask') throw new Error(`a mask gate cannot restore a '${site.gate}' site`);
    if (site.op !== this.alt.opId) throw new Error(`site operator '${site.op}' differs from the gate's '${this.alt.opId}'`);
    this.freeze(unpackMask(site.mask));
  }
}
