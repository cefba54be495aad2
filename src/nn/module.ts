import { tf } from '../engine/tf.js';

/** Parameter collections: network weights ω and architecture variables θ are disjoint. */
export const PARAM_GROUPS = ['weight', 'arch'] as const;
export type ParamGroup = (typeof PARAM_GROUPS)[number];

interface ParamEntry {
  variable: tf.Variable;
  group: ParamGroup;
}

import type { TensorState } from '../io/checkpoint.js';

export type { TensorState };

/**
 * Base class of every polynas layer, a small module system over tfjs-core (in the spirit of
 * `torch.nn.Module`): named children, trainable parameters split into the `weight` and `arch`
 * collections, non-trainable buffers (BatchNorm running statistics, masks), train/eval mode, dotted
 * parameter paths (`layer1.0.conv1.weight`) and state save/load. Variables are created once, in the
 * constructor, and freed by {@link Module.dispose}.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   readonly s = this.param('s', tf.ones([1]));
 *   forward(x: tf.Tensor) { return tf.mul(x, this.s); }
 * }
 * const m = new Scale();
 * m.namedParameters().map(([path]) => path); // ['s']
 * ```
 */
export abstract class Module {
  private readonly childMap = new Map<string, Module>();
  private readonly paramMap = new Map<string, ParamEntry>();
  private readonly bufferMap = new Map<string, tf.Variable>();
  private isTraining = true;
  /**
   * Operator id of a site operator in the operator registry (`relu`, `maxpool`, `x2act`, …): what
   * latency tables price it as and what an export writes. Set by the layer or by the registry's builder.
   */
  opId?: string;
  /** Per-sample input and output shapes of the last forward pass (set by layers that record them). */
  lastShapes?: { input: number[]; output: number[] };

  abstract forward(x: tf.Tensor): tf.Tensor;

  /** Records the per-sample shapes of a forward pass and returns `y` (used by cost-bearing layers). */
  protected recorded(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    this.lastShapes = { input: x.shape.slice(1), output: y.shape.slice(1) };
    return y;
  }

  /** Registers a child module under `name`; returns it. */
  protected module<M extends Module>(name: string, child: M): M {
    this.checkName(name);
    this.childMap.set(name, child);
    return child;
  }

  /** Registers a trainable parameter initialised from `init` (the tensor is consumed). */
  protected param(name: string, init: tf.Tensor, group: ParamGroup = 'weight'): tf.Variable {
    this.checkName(name);
    const v = tf.variable(init, true);
    init.dispose();
    this.paramMap.set(name, { variable: v, group });
    return v;
  }

  /** Registers a non-trainable buffer (saved with the state, not optimised). */
  protected buffer(name: string, init: tf.Tensor): tf.Variable {
    this.checkName(name);
    const v = tf.variable(init, false);
    init.dispose();
    this.bufferMap.set(name, v);
    return v;
  }

  /** Replaces a registered child (used by search spaces to swap the operator at a site). */
  replaceChild(name: string, child: Module): void {
    if (!this.childMap.has(name)) throw new Error(`replaceChild: no child '${name}'`);
    this.childMap.set(name, child);
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`invalid module member name '${name}'`);
    if (this.childMap.has(name) || this.paramMap.has(name) || this.bufferMap.has(name)) {
      throw new Error(`'${name}' is registered twice`);
    }
  }

  get training(): boolean {
    return this.isTraining;
  }

  /** Sets train (true) or eval (false) mode on this module and every descendant. */
  train(on = true): this {
    this.isTraining = on;
    for (const c of this.childMap.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.childMap.entries()];
  }

  /** This module and all descendants with their dotted paths ('' for this one), depth first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.childMap) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Parameters with dotted paths, optionally only one group. */
  namedParameters(group?: ParamGroup): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [n, e] of m.paramMap) {
        if (!group || e.group === group) out.push([path ? `${path}.${n}` : n, e.variable]);
      }
    }
    return out;
  }

  /** Buffers with dotted paths. */
  namedBuffers(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [n, v] of m.bufferMap) out.push([path ? `${path}.${n}` : n, v]);
    }
    return out;
  }

  /** Trainable network weights ω. */
  weightVariables(): tf.Variable[] {
    return this.namedParameters('weight').map(([, v]) => v);
  }

  /** Architecture variables θ (empty for a plain backbone). */
  archVariables(): tf.Variable[] {
    return this.namedParameters('arch').map(([, v]) => v);
  }

  /** Number of scalar parameters (optionally of one group). */
  parameterCount(group?: ParamGroup): number {
    return this.namedParameters(group).reduce((s, [, v]) => s + v.size, 0);
  }

  /** Parameters and buffers as plain arrays, keyed by path. */
  stateDict(): Record<string, TensorState> {
    const out: Record<string, TensorState> = {};
    for (const [p, v] of [...this.namedParameters(), ...this.namedBuffers()]) {
      out[p] = { shape: [...v.shape], values: v.dataSync() as Float32Array };
    }
    return out;
  }

  /**
   * Loads parameters and buffers. Every entry of this module must be present with the same shape;
   * unknown keys are an error unless `strict` is false.
   */
  loadStateDict(state: Record<string, TensorState>, strict = true): void {
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    const problems: string[] = [];
    for (const [p, v] of own) {
      const s = state[p];
      if (!s) problems.push(`missing '${p}'`);
      else if (s.shape.join(',') !== v.shape.join(',')) {
        problems.push(`'${p}' has shape [${s.shape}] but the module expects [${v.shape}]`);
      } else if (s.values.length !== v.size) problems.push(`'${p}' has ${s.values.length} values, expected ${v.size}`);
    }
    if (strict) for (const k of Object.keys(state)) if (!own.has(k)) problems.push(`unexpected '${k}'`);
    if (problems.length) throw new Error(`loadStateDict: ${problems.join('; ')}`);
    for (const [p, v] of own) {
      const s = state[p]!;
      tf.tidy(() => v.assign(tf.tensor(s.values, s.shape, 'float32')));
    }
  }

  /** Frees every variable of this module and its descendants. */
  dispose(): void {
    for (const c of this.childMap.values()) c.dispose();
    for (const e of this.paramMap.values()) e.variable.dispose();
    for (const v of this.bufferMap.values()) v.dispose();
  }
}
