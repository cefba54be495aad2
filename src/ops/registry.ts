import type { z } from 'zod';
import type { Module } from '../nn/module.js';

/** Where an operator sits: an activation site or a pooling site. */
export const OP_KINDS = ['activation', 'pool'] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** The site an operator is built for: its per-sample input shape, and a pool's window. */
export interface OpSite {
  shape: readonly number[];
  kernel?: number;
  stride?: number;
  pad?: number;
}

/**
 * One operator a search can place at a site. The definition is tfjs-free data plus a builder:
 * importing the registry loads neither TensorFlow.js nor mathjs (the builder imports its module
 * class when first called), so that the CLI's help and schema generation stay fast.
 *
 * What every layer needs of an operator comes from here: the space schema's candidate list
 * (`kind`) and option section (`options`), the supernet (`build`, `collectsStats`), the latency
 * model (`costOp`, `isRelu`), and the export (`exportParams` / `importParams`).
 */
export interface OpDef {
  /** Registry id, as written in spaces, architectures and latency tables (`x2act`, `poly2`). */
  id: string;
  kind: OpKind;
  /** One line for docs and `--help`. */
  summary: string;
  /** The latency-table operator this op is priced as (usually its id). */
  costOp: string;
  /** Each element is one secure comparison (a ReLU): counted against the budget. */
  isRelu?: boolean;
  /** Fitted to its site's input statistics (DaPa): mask gates collect running statistics for it. */
  collectsStats?: boolean;
  /** The op's options section inside a space's `activation` block, shared by ops with the same key. */
  options?: { key: string; schema: z.ZodType };
  /** Builds the operator for a site; `options` is the space's section under `options.key` (parsed). */
  build(site: OpSite, options: unknown): Promise<Module>;
  /** Its trained parameters as JSON (written into `architecture.json`); absent: none worth showing. */
  exportParams?(op: Module): unknown;
  /** Restores parameters written by `exportParams`. */
  importParams?(op: Module, params: unknown): void;
  /**
   * The operator as the polynomial `Σ_k c_k·x^k` the 2PC runtime (`polynas pi`) evaluates: rows
   * c_0 … c_d with the effective coefficients (scales and clipping applied), each of length 1 (one
   * per site) or the channel count. Absent: the runtime cannot evaluate this operator.
   */
  polynomial?(op: Module): number[][];
}

const OPS = new Map<string, OpDef>();
let version = 0;

/** Raised for an unknown operator id, listing the known ones. */
export class UnknownOpError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(
    readonly id: string,
    readonly known: readonly string[],
  ) {
    super(`unknown operator '${id}'; known: ${known.join(', ')}`);
    this.name = 'UnknownOpError';
  }
}

/**
 * Registers an operator; registering an id twice throws. Spaces, architectures and the CLI accept
 * it from then on (their schemas are built from the registry when used).
 *
 * @example
 * ```ts
 * registerOp({ id: 'tanh3', kind: 'activation', summary: 'cubic tanh fit', costOp: 'poly3', build: async () => new Tanh3() });
 * ```
 */
export function registerOp(def: OpDef): void {
  if (OPS.has(def.id)) throw new Error(`operator '${def.id}' is already registered`);
  OPS.set(def.id, def);
  version++;
}

/** Removes an operator (tests and plugins that register temporary ones). */
export function unregisterOp(id: string): void {
  if (OPS.delete(id)) version++;
}

/**
 * The definition of a registered operator.
 *
 * @example
 * ```ts runnable
 * getOp('x2act').costOp; // 'x2act'
 * ```
 */
export function getOp(id: string): OpDef {
  const def = OPS.get(id);
  if (!def) throw new UnknownOpError(id, [...OPS.keys()]);
  return def;
}

/** True when `id` is registered (of `kind`, when given). */
export function hasOp(id: string, kind?: OpKind): boolean {
  const def = OPS.get(id);
  return !!def && (kind === undefined || def.kind === kind);
}

/**
 * Registered operator ids, in registration order.
 *
 * @example
 * ```ts runnable
 * opIds('pool'); // ['maxpool', 'avgpool']
 * ```
 */
export function opIds(kind?: OpKind): string[] {
  return [...OPS.values()].filter((d) => kind === undefined || d.kind === kind).map((d) => d.id);
}

/** Every registered definition. */
export function opDefs(): OpDef[] {
  return [...OPS.values()];
}

/** Changes whenever an operator is registered or removed (schemas built from the registry cache on it). */
export function opRegistryVersion(): number {
  return version;
}

/**
 * Builds operator `id` for a site and tags it with its id.
 *
 * @example
 * ```ts
 * const op = await buildOp('poly2', { shape: [16, 16, 32] }, space.activation.poly);
 * ```
 */
export async function buildOp(id: string, site: OpSite, options?: unknown): Promise<Module> {
  const op = await getOp(id).build(site, options);
  op.opId = id;
  return op;
}

/** The latency-table operator of a site operator (by its registry id). */
export function costOpOf(op: Module): string {
  if (!op.opId) throw new Error(`operator ${op.constructor.name} has no registry id (build it with buildOp, or set opId); a gated site is priced by its gate's costChoice()`);
  return getOp(op.opId).costOp;
}

/**
 * Index of the ReLU among a gate's candidates (the registry's `isRelu` operator), or −1.
 *
 * @example
 * ```ts
 * reluIndex(['x2act', 'relu']); // 1
 * ```
 */
export function reluIndex(candidates: readonly string[]): number {
  return candidates.findIndex((id) => getOp(id).isRelu === true);
}
