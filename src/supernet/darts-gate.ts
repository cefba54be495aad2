import { tf } from '../engine/tf.js';
import { Module } from '../nn/module.js';
import { getOp, reluIndex } from '../ops/index.js';
import type { ArchitectureSite, DartsSite } from '../spec/architecture.js';
import type { SiteChoice } from '../latency/network.js';
import type { Gate } from './gate.js';
import { meteredOp } from './deployed.js';
import type { SecureOpCounter } from '../nn/metered.js';

/**
 * A DARTS mixed operation (PASNet GateAct / GatePool): architecture parameters θ (one per candidate,
 * initialised to 0) and output `Σ_k softmax(θ)_k · op_k(x)`. Discretized by argmax (or by the budget
 * projection), after which only the chosen candidate runs.
 *
 * @example
 * ```ts
 * const gate = new DartsGate('activation', ['relu', 'x2act'], [relu, x2act], [32, 32, 16]);
 * gate.probs().print(); // [0.5, 0.5]
 * gate.choose('x2act');
 * ```
 */
export class DartsGate extends Module implements Gate {
  readonly gateKind = 'darts' as const;
  readonly theta: tf.Variable;
  readonly ops: Module[];
  /** Per-sample input shape at the site. */
  readonly siteShape: number[];
  private chosen: number | undefined;
  /** Pool sites: whether a kept MaxPool's comparisons count against the budget (then it plays ReLU's part). */
  readonly countsComparisons: boolean;

  constructor(
    readonly siteKind: 'activation' | 'pool',
    /** Candidate operator ids (registry), in the order of `ops`. */
    readonly names: readonly string[],
    ops: Module[],
    siteShape: readonly number[],
    opts: { countsComparisons?: boolean } = {},
  ) {
    super();
    this.countsComparisons = opts.countsComparisons ?? false;
    if (names.length !== ops.length || ops.length < 2) throw new Error(`DartsGate: ${names.length} names for ${ops.length} candidates (need ≥ 2)`);
    this.siteShape = [...siteShape];
    this.theta = this.param('theta', tf.zeros([ops.length]), 'arch');
    this.ops = ops.map((op, i) => this.module(`op${i}`, op));
  }

  /** softmax(θ). */
  probs(): tf.Tensor1D {
    return tf.softmax(this.theta as unknown as tf.Tensor1D);
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (this.chosen !== undefined) return this.ops[this.chosen]!.forward(x);
    const p = tf.unstack(this.probs());
    return tf.addN(this.ops.map((op, k) => tf.mul(op.forward(x), p[k]!)));
  }

  get isFrozen(): boolean {
    return this.chosen !== undefined;
  }

  /** The chosen candidate's name (after discretization), else the current argmax. */
  choice(): string {
    if (this.chosen !== undefined) return this.names[this.chosen]!;
    return this.names[tf.tidy(() => tf.argMax(this.theta).dataSync()[0]!)]!;
  }

  /** Fixes the candidate (by name). */
  choose(name: string): void {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`DartsGate: no candidate '${name}'; candidates: ${this.names.join(', ')}`);
    this.chosen = i;
  }

  /**
   * The candidate that costs secure comparisons counted against the budget: ReLU at an activation
   * site; MaxPool at a pool site when its comparisons count (else none).
   */
  private reluIndex(): number {
    if (this.siteKind === 'pool') return this.countsComparisons ? this.names.indexOf('maxpool') : -1;
    return reluIndex(this.names);
  }

  siteSize(): number {
    return tf.util.sizeFromShape(this.siteShape);
  }

  /** What keeping the counted candidate costs: the site's elements (ReLU) or its max-pool comparisons. */
  private countedSize(): number {
    if (this.siteKind === 'activation') return this.siteSize();
    const op = this.ops[this.reluIndex()] as Module & { comparisons?(s: readonly number[]): number };
    return op.comparisons?.(this.siteShape) ?? 0;
  }

  searchableRelus(): number {
    return this.reluIndex() < 0 ? 0 : this.countedSize();
  }

  /** A layer gate decides for the whole site at once. */
  unitSize(): number {
    return this.reluIndex() < 0 ? this.siteSize() : this.countedSize();
  }

  /** softmax(θ)_relu · N (differentiable). */
  expectedRelus(): tf.Scalar {
    const r = this.reluIndex();
    if (r < 0 || this.chosen !== undefined) return tf.scalar(this.reluCount());
    return tf.tidy(() => tf.mul(tf.sum(tf.slice(this.probs(), [r], [1])), this.countedSize()) as tf.Scalar);
  }

  /** ReLUs (or, at a counted pool site, max-pool comparisons) per sample of the chosen candidate. */
  reluCount(): number {
    const r = this.reluIndex();
    if (r < 0) return 0;
    return this.choice() === this.names[r] ? this.countedSize() : 0;
  }

  /** Budget score: θ_relu − max of the other θ (keep the ReLU where it wins by most). */
  scores(): Float32Array {
    const t = this.theta.dataSync();
    const r = this.reluIndex();
    if (r < 0) return new Float32Array(1).fill(-Infinity);
    let other = -Infinity;
    t.forEach((v, i) => i !== r && (other = Math.max(other, v)));
    return Float32Array.of(t[r]! - other);
  }

  /** Budget projection: keep[0] = 1 keeps ReLU, else the best non-ReLU candidate. */
  freeze(keep: ArrayLike<number>): void {
    const r = this.reluIndex();
    if (r >= 0 && keep[0]) {
      this.chosen = r;
      return;
    }
    const t = this.theta.dataSync();
    let best = -1;
    t.forEach((v, i) => i !== r && (best < 0 || v > t[best]!) && (best = i));
    this.chosen = best;
  }

  costChoice(): SiteChoice {
    return { op: getOp(this.choice()).costOp };
  }

  toSite(): DartsSite {
    const op = this.choice();
    const params = getOp(op).exportParams?.(this.ops[this.names.indexOf(op)]!);
    return {
      gate: 'darts', kind: this.siteKind, op, granularity: 'layer', candidates: [...this.names], theta: Array.from(this.theta.dataSync()),
      ...(this.siteKind === 'activation' ? { keptRelus: this.reluCount() } : {}), siteShape: [...this.siteShape], ...(params !== undefined ? { params } : {}),
    };
  }

  /** Max-pool comparisons of the chosen (or leading) candidate. */
  comparisons(perSampleShape: readonly number[]): number {
    const op = this.ops[this.names.indexOf(this.choice())]! as Module & { comparisons?(s: readonly number[]): number };
    return op.comparisons ? op.comparisons(perSampleShape) : 0;
  }

  /** The chosen candidate alone, ReLU and MaxPool metered. */
  deployed(counter: SecureOpCounter): Module {
    return meteredOp(this.ops[this.names.indexOf(this.choice())]!, counter);
  }

  restore(site: ArchitectureSite): void {
    if (site.gate !== 'darts') throw new Error(`a DARTS gate cannot restore a '${site.gate}' site`);
    this.choose(site.op);
  }
}
