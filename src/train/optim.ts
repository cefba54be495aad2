import { adamSteps, sgdSteps } from '../engine/fused.js';
import { tf } from '../engine/tf.js';
import type { TensorState } from '../nn/module.js';

/** A trainable variable with its stable path (the key of optimizer state in checkpoints). */
export type NamedVariable = [path: string, variable: tf.Variable];

/** Gradients keyed by `variable.name`, as returned by `tf.variableGrads`. */
export type GradMap = Record<string, tf.Tensor>;

/** Common interface of polynas optimizers. */
export interface Optimizer {
  /** Applies one update with learning rate `lr`. Gradients are not disposed. */
  step(grads: GradMap, lr: number): void;
  /** Slot variables and counters, for checkpoints. */
  state(): { step: number; slots: Record<string, TensorState> };
  loadState(s: { step: number; slots: Record<string, TensorState> }): void;
  dispose(): void;
}

/** SGD settings. Defaults: momentum 0.9, no Nesterov, weight decay 0 (L2, added to the gradient). */
export interface SgdConfig {
  type: 'sgd';
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** Adam settings. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0, L2 (decoupled: false). */
export interface AdamConfig {
  type: 'adam';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW: decay the weights directly instead of adding `wd·w` to the gradient. */
  decoupled?: boolean;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

abstract class SlotOptimizer implements Optimizer {
  protected t = 0;
  protected readonly slots = new Map<string, tf.Variable>();

  constructor(protected readonly params: NamedVariable[]) {
    // One step computes every update before assigning any: a variable under two paths would get one of them.
    const seen = new Map<tf.Variable, string>();
    for (const [path, v] of params) {
      if (seen.has(v)) throw new Error(`optimizer: '${path}' and '${seen.get(v)}' are the same variable; give each parameter once`);
      seen.set(v, path);
    }
  }

  protected slot(path: string, like: tf.Variable, kind: string): tf.Variable {
    const key = `${path}#${kind}`;
    let v = this.slots.get(key);
    if (!v) {
      v = tf.variable(tf.zerosLike(like), false);
      this.slots.set(key, v);
    }
    return v;
  }

  abstract step(grads: GradMap, lr: number): void;

  /**
   * One step: counts it, then hands every parameter that has a gradient (with its path and gradient)
   * to `update` at once, inside one `tf.tidy`.
   */
  protected allParams(grads: GradMap, update: (paths: string[], vs: tf.Variable[], gs: tf.Tensor[]) => void): void {
    this.t++;
    const paths: string[] = [], vs: tf.Variable[] = [], gs: tf.Tensor[] = [];
    for (const [path, v] of this.params) {
      const g = this.gradOf(grads, v);
      if (!g) continue;
      paths.push(path);
      vs.push(v);
      gs.push(g);
    }
    tf.tidy(() => update(paths, vs, gs));
  }

  protected gradOf(grads: GradMap, v: tf.Variable): tf.Tensor | undefined {
    return grads[v.name];
  }

  state(): { step: number; slots: Record<string, TensorState> } {
    const slots: Record<string, TensorState> = {};
    for (const [k, v] of this.slots) slots[k] = { shape: [...v.shape], values: v.dataSync() as Float32Array };
    return { step: this.t, slots };
  }

  loadState(s: { step: number; slots: Record<string, TensorState> }): void {
    this.t = s.step;
    const byPath = new Map(this.params);
    for (const [key, st] of Object.entries(s.slots)) {
      const path = key.slice(0, key.lastIndexOf('#'));
      const like = byPath.get(path);
      if (!like) throw new Error(`optimizer state: no parameter '${path}'`);
      if (st.shape.join(',') !== like.shape.join(',')) throw new Error(`optimizer state: '${key}' has shape [${st.shape}], expected [${like.shape}]`);
      const v = this.slot(path, like, key.slice(key.lastIndexOf('#') + 1));
      tf.tidy(() => v.assign(tf.tensor(st.values, st.shape)));
    }
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}

/**
 * Stochastic gradient descent with PyTorch semantics: `g ← g + wd·w`, `b ← μ·b + g`,
 * Nesterov: `g ← g + μ·b`, else `g ← b`; `w ← w − lr·g`.
 *
 * @example
 * ```ts
 * const opt = new Sgd(model.namedParameters('weight'), { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export class Sgd extends SlotOptimizer {
  private readonly momentum: number;
  private readonly nesterov: boolean;
  private readonly wd: number;
  constructor(params: NamedVariable[], cfg: SgdConfig) {
    super(params);
    this.momentum = cfg.momentum ?? 0.9;
    this.nesterov = cfg.nesterov ?? false;
    this.wd = cfg.weightDecay ?? 0;
    if (this.nesterov && this.momentum <= 0) throw new Error('sgd: nesterov needs momentum > 0');
  }
  /** The momentum buffer of a parameter (undefined before its first step). */
  momentumBuffer(path: string): tf.Variable | undefined {
    return this.slots.get(`${path}#momentum`);
  }

  step(grads: GradMap, lr: number): void {
    this.allParams(grads, (paths, vs, gs) => {
      // The buffers start at zero, so the first step sets them to g as PyTorch does.
      const bufs = this.momentum > 0 ? vs.map((v, i) => this.slot(paths[i]!, v, 'momentum')) : undefined;
      const [next, nextBufs] = sgdSteps(vs, gs, bufs ?? gs, { lr, momentum: this.momentum, weightDecay: this.wd, nesterov: this.nesterov });
      vs.forEach((v, i) => {
        bufs?.[i]!.assign(nextBufs[i]!);
        v.assign(next[i]!);
      });
    });
  }
}

/**
 * Adam / AdamW with bias correction (PyTorch semantics).
 *
 * @example
 * ```ts
 * const opt = new Adam(model.namedParameters('arch'), { type: 'adam', beta1: 0.5, weightDecay: 1e-3 });
 * ```
 */
export class Adam extends SlotOptimizer {
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly decoupled: boolean;
  constructor(params: NamedVariable[], cfg: AdamConfig) {
    super(params);
    this.b1 = cfg.beta1 ?? 0.9;
    this.b2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.wd = cfg.weightDecay ?? 0;
    this.decoupled = cfg.decoupled ?? false;
  }
  step(grads: GradMap, lr: number): void {
    // Bias corrections of the step about to be taken (allParams counts it), once per step.
    const c1 = 1 - this.b1 ** (this.t + 1);
    const c2 = 1 - this.b2 ** (this.t + 1);
    this.allParams(grads, (paths, vs, gs) => {
      // Slots are created parameter by parameter (m, then v), so checkpoints list them in that order.
      const ms: tf.Variable[] = [], ss: tf.Variable[] = [];
      vs.forEach((v, i) => {
        ms.push(this.slot(paths[i]!, v, 'm'));
        ss.push(this.slot(paths[i]!, v, 'v'));
      });
      const [next, m1, s1] = adamSteps(vs, gs, ms, ss, { lr, beta1: this.b1, beta2: this.b2, eps: this.eps, weightDecay: this.wd, decoupled: this.decoupled, c1, c2 });
      vs.forEach((v, i) => {
        ms[i]!.assign(m1[i]!);
        ss[i]!.assign(s1[i]!);
        v.assign(next[i]!);
      });
    });
  }
}

/**
 * Builds an optimizer from its config.
 *
 * @example
 * ```ts
 * const opt = createOptimizer(net.namedParameters('weight'), { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * opt.step(grads, 0.1);
 * ```
 */
export function createOptimizer(params: NamedVariable[], cfg: OptimizerConfig): Optimizer {
  switch (cfg.type) {
    case 'sgd':
      return new Sgd(params, cfg);
    case 'adam':
      return new Adam(params, cfg);
  }
}
