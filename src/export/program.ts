import { createHash } from 'node:crypto';
import type { Backbone } from '../backbones/backbone.js';
import { BasicBlock, Bottleneck, Projection, ResNet } from '../backbones/resnet.js';
import { LeNet5 } from '../backbones/lenet.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Site } from '../nn/site.js';
import { getOp } from '../ops/registry.js';
import { Borrowed, GatheredActivation } from '../supernet/deployed.js';

/** Fixed-point settings of a run: shares in Z_2^64. */
export interface FixedPoint {
  ringBits: 64;
  /** Fractional bits of activations. */
  frac: number;
  /** Fractional bits of weights, biases' scale partner, polynomial coefficients and pooling reciprocals. */
  weightFrac: number;
}

export const DEFAULT_FIXED_POINT: FixedPoint = { ringBits: 64, frac: 12, weightFrac: 16 };

/** One step of a lowered network; every node makes one value, its per-sample `shape` (NHWC or `[F]`). */
export type PiNode =
  | { op: 'input'; shape: number[] }
  | { op: 'conv'; path: string; in: number; k: number; stride: number; pad: number; cin: number; cout: number; inShape: number[]; shape: number[] }
  | { op: 'linear'; path: string; in: number; inF: number; outF: number; shape: number[] }
  | { op: 'add'; in: number; in2: number; shape: number[] }
  | { op: 'relu'; path: string; in: number; shape: number[] }
  | { op: 'poly'; path: string; in: number; degree: number; coeffs: 'site' | 'channel'; shape: number[] }
  | { op: 'mask'; path: string; in: number; degree: number; coeffs: 'site' | 'channel'; keep: string; kept: number; shape: number[] }
  | { op: 'avgpool' | 'maxpool'; path: string; in: number; k: number; stride: number; pad: number; inShape: number[]; shape: number[] }
  | { op: 'gap'; path: string; in: number; inShape: number[]; shape: number[] }
  | { op: 'flatten'; in: number; shape: number[] };

/**
 * The public part of an exported network, which the client and the dealer read: the graph, shapes,
 * masks, fixed-point settings and the input normalization. Weights and polynomial coefficients are
 * in {@link PiSecrets}, which only the server reads. The parties' handshake compares
 * {@link programHash}es of this object.
 */
export interface PiProgram {
  format: 'polynas-pi-program';
  version: 1;
  backbone: string;
  inputShape: number[];
  numClasses: number;
  normalization?: { mean: number[]; std: number[] };
  fixedPoint: FixedPoint;
  nodes: PiNode[];
}

/** The server's secret part: real-valued parameters per node index. */
export interface PiSecrets {
  format: 'polynas-pi-secrets';
  version: 1;
  programHash: string;
  /** conv: weight `[k,k,cin,cout]`, linear: `[in,out]`; bias per output; poly/mask: rows c_0…c_d. */
  params: Record<string, { weight?: number[]; bias?: number[]; coeffs?: number[][] }>;
}

/** The network has a part the 2PC runtime cannot evaluate (named in the message). */
export class PiUnsupportedError extends Error {
  override name = 'PiUnsupportedError';
}

/** SHA-256 of the public part (what the parties compare before they start). */
export function programHash(p: PiProgram): string {
  return createHash('sha256').update(JSON.stringify(p)).digest('hex');
}

/** The most polynomial degree the runtime evaluates (x² by one (r, r²) pair; higher powers would need more rounds). */
export const MAX_PI_DEGREE = 2;

class Lowering {
  constructor(readonly maxDegree: number) {}
  readonly nodes: PiNode[] = [];
  readonly params: PiSecrets['params'] = {};
  emit(node: PiNode, params?: PiSecrets['params'][string]): number {
    this.nodes.push(node);
    if (params) this.params[String(this.nodes.length - 1)] = params;
    return this.nodes.length - 1;
  }
  shape(id: number): number[] {
    return this.nodes[id]!.shape;
  }
}

type Lower<M extends Module = Module> = (m: M, path: string, input: number, cx: Lowering) => number;
const LOWERINGS = new Map<abstract new (...a: never[]) => Module, Lower>();

/**
 * Teaches the 2PC runtime a module class: `lower` emits the class's nodes and returns the node
 * holding its output. Subclasses inherit their parent's lowering unless they register their own.
 */
export function registerLowering<M extends Module>(cls: abstract new (...a: never[]) => M, lower: Lower<M>): void {
  LOWERINGS.set(cls, lower as Lower);
}

function lowerModule(m: Module, path: string, input: number, cx: Lowering): number {
  for (let p = Object.getPrototypeOf(m) as { constructor: abstract new (...a: never[]) => Module } | null; p; p = Object.getPrototypeOf(p) as typeof p) {
    const fn = LOWERINGS.get(p.constructor);
    if (fn) return fn(m, path, input, cx);
  }
  if (m.opId && getOp(m.opId).polynomial) return lowerPoly(m, path, input, cx);
  throw new PiUnsupportedError(`the 2PC runtime cannot evaluate '${path || '(network)'}' (${m.constructor.name}${m.opId ? `, operator '${m.opId}'` : ''})`);
}

const join = (path: string, name: string): string => (path ? `${path}.${name}` : name);

/** Children in registration order (LeNet-5, ResNet, Sequential, Projection run them in that order). */
const chain: Lower = (m, path, input, cx) => m.namedChildren().reduce((x, [name, c]) => lowerModule(c, join(path, name), x, cx), input);

function polyRows(m: Module, path: string, cx: Lowering): number[][] {
  const rows = getOp(m.opId!).polynomial!(m);
  const degree = rows.length - 1;
  if (degree > cx.maxDegree) throw new PiUnsupportedError(`the 2PC runtime cannot evaluate '${path}': operator '${m.opId}' has degree ${degree} (it evaluates degree ≤ ${MAX_PI_DEGREE})`);
  return rows;
}

function lowerPoly(m: Module, path: string, input: number, cx: Lowering): number {
  const rows = polyRows(m, path, cx);
  return cx.emit({ op: 'poly', path, in: input, degree: rows.length - 1, coeffs: rows[0]!.length === 1 ? 'site' : 'channel', shape: cx.shape(input) }, { coeffs: rows });
}

function block(m: BasicBlock | Bottleneck, path: string, input: number, cx: Lowering): number {
  const names = m instanceof BasicBlock ? ['conv1', 'bn1', 'act1', 'conv2', 'bn2'] : ['conv1', 'bn1', 'act1', 'conv2', 'bn2', 'act2', 'conv3', 'bn3'];
  const children = new Map(m.namedChildren());
  const h = names.reduce((x, n) => lowerModule(children.get(n)!, join(path, n), x, cx), input);
  const s = m.shortcut ? lowerModule(m.shortcut, join(path, 'shortcut'), input, cx) : input;
  const sum = cx.emit({ op: 'add', in: h, in2: s, shape: cx.shape(h) });
  const last = m instanceof BasicBlock ? 'act2' : 'act3';
  return lowerModule(children.get(last)!, join(path, last), sum, cx);
}

function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

function pool(op: 'avgpool' | 'maxpool', m: AvgPool2d | MaxPool2d, path: string, input: number, cx: Lowering): number {
  const [h, w, c] = cx.shape(input) as [number, number, number];
  const shape = [outSize(h, m.kernel, m.stride, m.pad), outSize(w, m.kernel, m.stride, m.pad), c];
  return cx.emit({ op, path, in: input, k: m.kernel, stride: m.stride, pad: m.pad, inShape: [h, w, c], shape });
}

function packBits(keep: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(keep.length / 8));
  keep.forEach((k, i) => { if (k) bytes[i >> 3]! |= 1 << (i & 7); });
  return Buffer.from(bytes).toString('base64');
}

/** The per-element keep flags of a `mask` node. */
export function unpackKeep(node: { keep: string; shape: number[] }): Uint8Array {
  const bytes = Buffer.from(node.keep, 'base64');
  const n = node.shape.reduce((a, b) => a * b, 1);
  return Uint8Array.from({ length: n }, (_, i) => (bytes[i >> 3]! >> (i & 7)) & 1);
}

registerLowering(LeNet5, chain);
registerLowering(ResNet, chain);
registerLowering(Sequential, chain);
registerLowering(Projection, chain);
registerLowering(BasicBlock, block);
registerLowering(Bottleneck, block);
registerLowering(Site, (m, path, input, cx) => lowerModule((m as Site).op, path, input, cx));
registerLowering(Borrowed, (m, path, input, cx) => lowerModule((m as Borrowed).inner, path, input, cx));
registerLowering(ReLU, (_m, path, input, cx) => cx.emit({ op: 'relu', path, in: input, shape: cx.shape(input) }));
registerLowering(MaxPool2d, (m, path, input, cx) => pool('maxpool', m as MaxPool2d, path, input, cx));
registerLowering(AvgPool2d, (m, path, input, cx) => pool('avgpool', m as AvgPool2d, path, input, cx));
registerLowering(Flatten, (_m, _path, input, cx) => cx.emit({ op: 'flatten', in: input, shape: [cx.shape(input).reduce((a, b) => a * b, 1)] }));
registerLowering(GlobalAvgPool, (_m, path, input, cx) => {
  const [h, w, c] = cx.shape(input) as [number, number, number];
  return cx.emit({ op: 'gap', path, in: input, inShape: [h, w, c], shape: [c] });
});
registerLowering(GatheredActivation, (m, path, input, cx) => {
  const g = m as GatheredActivation;
  const rows = polyRows(g.alt, path, cx);
  const kept = g.keep.reduce((a, k) => a + k, 0);
  return cx.emit({ op: 'mask', path, in: input, degree: rows.length - 1, coeffs: rows[0]!.length === 1 ? 'site' : 'channel', keep: packBits(g.keep), kept, shape: cx.shape(input) }, { coeffs: rows });
});
registerLowering(Conv2d, (m, path, input, cx) => {
  const c = m as Conv2d;
  if (c.groups !== 1) throw new PiUnsupportedError(`the 2PC runtime cannot evaluate '${path}': grouped or depthwise convolution (groups ${c.groups})`);
  const [h, w] = cx.shape(input) as [number, number, number];
  const shape = [outSize(h, c.kernel, c.stride, c.pad), outSize(w, c.kernel, c.stride, c.pad), c.outChannels];
  const bias = c.bias ? Array.from(c.bias.dataSync()) : new Array<number>(c.outChannels).fill(0);
  return cx.emit({ op: 'conv', path, in: input, k: c.kernel, stride: c.stride, pad: c.pad, cin: c.inChannels, cout: c.outChannels, inShape: cx.shape(input), shape }, { weight: Array.from(c.weight.dataSync()), bias });
});
registerLowering(BatchNorm2d, (m, path, input, cx) => {
  const bn = m as BatchNorm2d;
  const conv = cx.nodes[input];
  // BatchNorm is folded into the convolution that feeds it (eval-mode statistics): w·s, (b − μ)·s + β.
  if (conv?.op !== 'conv' || input !== cx.nodes.length - 1) throw new PiUnsupportedError(`the 2PC runtime cannot evaluate '${path}': BatchNorm that does not follow a convolution`);
  const gamma = bn.gamma.dataSync(), beta = bn.beta.dataSync(), mean = bn.runningMean.dataSync(), variance = bn.runningVar.dataSync();
  const scale = Array.from(gamma, (g, o) => g / Math.sqrt(variance[o]! + bn.eps));
  const p = cx.params[String(input)]!;
  p.weight = p.weight!.map((v, i) => v * scale[i % conv.cout]!);
  p.bias = p.bias!.map((b, o) => (b - mean[o]!) * scale[o]! + beta[o]!);
  return input;
});
registerLowering(Linear, (m, path, input, cx) => {
  const l = m as Linear;
  const bias = l.bias ? Array.from(l.bias.dataSync()) : new Array<number>(l.outFeatures).fill(0);
  return cx.emit({ op: 'linear', path, in: input, inF: l.inFeatures, outF: l.outFeatures, shape: [l.outFeatures] }, { weight: Array.from(l.weight.dataSync()), bias });
});

/**
 * Lowers a network in its deployed form (call inside `withDeployedForm`) to the runtime's program:
 * BatchNorm folded into convolutions, masks as public keep flags, polynomial coefficients and
 * weights into the secret part. Polynomials above `maxDegree` (default: what the 2PC runtime
 * evaluates) are refused, naming the site.
 *
 * @example
 * ```ts
 * const { program, secrets } = withDeployedForm(net, () => lowerNetwork(net, { normalization }));
 * ```
 */
export function lowerNetwork(net: Backbone, opts: { normalization?: { mean: number[]; std: number[] }; fixedPoint?: FixedPoint; maxDegree?: number } = {}): { program: PiProgram; secrets: PiSecrets } {
  const cx = new Lowering(opts.maxDegree ?? MAX_PI_DEGREE);
  const input = cx.emit({ op: 'input', shape: [...net.inputShape] });
  lowerModule(net, '', input, cx);
  const program: PiProgram = {
    format: 'polynas-pi-program', version: 1, backbone: net.arch, inputShape: [...net.inputShape], numClasses: net.numClasses,
    ...(opts.normalization ? { normalization: opts.normalization } : {}), fixedPoint: opts.fixedPoint ?? DEFAULT_FIXED_POINT, nodes: cx.nodes,
  };
  return { program, secrets: { format: 'polynas-pi-secrets', version: 1, programHash: programHash(program), params: cx.params } };
}
