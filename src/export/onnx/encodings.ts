import { unpackKeep, type PiNode, type PiProgram, type PiSecrets } from '../program.js';
import type { OnnxGraph, TensorData } from './graph.js';
import type { OnnxProfile } from './profiles.js';

/** What an encoding sees: the graph being written, the profile, the value of every earlier node, the parameters. */
export interface EncodeContext {
  g: OnnxGraph;
  profile: OnnxProfile;
  program: PiProgram;
  /** ONNX value name of each program node's output (NCHW, or `[N,F]`). */
  values: string[];
  params: PiSecrets['params'];
  /** Polynomial coefficients as `Constant`s (public) instead of initializers (the server's secret). */
  publicCoefficients: boolean;
}

/** The program node type whose `op` admits O (a node type may stand for several ops, e.g. the pools). */
type NodeOf<O extends PiNode['op'], N = PiNode> = N extends { op: infer P } ? (O extends P ? N : never) : never;
type Encoding<N extends PiNode = PiNode> = (node: N, index: number, cx: EncodeContext) => string;
const ENCODINGS = new Map<PiNode['op'], Encoding>();

/** Teaches the ONNX export a program operator; `encode` returns the ONNX value holding the node's output. */
export function registerOnnxEncoding<O extends PiNode['op']>(op: O, encode: Encoding<NodeOf<O>>): void {
  ENCODINGS.set(op, encode as Encoding);
}

export function onnxEncoding(op: PiNode['op']): Encoding | undefined {
  return ENCODINGS.get(op);
}

const pathOf = (node: PiNode, index: number): string => ('path' in node ? node.path : `${node.op}${index}`);

/** Per-sample NHWC `[h,w,c]` (or `[f]`) → the broadcast shape of a per-channel (or, c = 1, per-site) tensor in NCHW. */
function channelDims(shape: number[], c: number): number[] {
  return shape.length === 3 ? [1, c, 1, 1] : [1, c];
}

/** A per-sample NHWC tensor's values reordered to NCHW (`[f]` stays). */
function toNchw(values: ArrayLike<number>, shape: number[]): number[] {
  if (shape.length !== 3) return Array.from(values);
  const [h, w, c] = shape as [number, number, number];
  const out = new Array<number>(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + x] = values[(y * w + x) * c + ch]!;
  return out;
}

function coefficient(cx: EncodeContext, stem: string, row: number[], shape: number[]): string {
  // Rank-matched dims even for one value: Athos handles ranks 0, 1, 2, 4 and drops 0-d initializers.
  const t: TensorData = { dims: channelDims(shape, row.length), float: row };
  return cx.publicCoefficients ? cx.g.constant(stem, t) : cx.g.initializer(stem, t);
}

/** x^k for k = 2…d as the profile writes powers (CrypTen: `Pow` by a public integer, x² being its cheap (r, r²) square). */
function powers(cx: EncodeContext, x: string, d: number, stem: string): string[] {
  const out = [x];
  for (let k = 2; k <= d; k++) {
    out.push(cx.profile.square === 'pow' ? cx.g.node('Pow', [x, cx.g.constant(`${stem}.exp${k}`, { dims: [], float: [k] })], {}, `${stem}.x${k}`) : cx.g.node('Mul', [out[k - 2]!, x], {}, `${stem}.x${k}`));
  }
  return out;
}

/** c₀ + c₁x + … + c_d·x^d with per-site or per-channel rows (each term a `Mul` by its coefficient, then `Add`s). */
export function polynomial(cx: EncodeContext, x: string, rows: number[][], shape: number[], stem: string): string {
  const { g } = cx;
  const xs = powers(cx, x, rows.length - 1, stem);
  let acc = g.node('Mul', [x, coefficient(cx, `${stem}.c1`, rows[1] ?? [0], shape)], {}, `${stem}.c1x`);
  for (let k = 2; k < rows.length; k++) acc = g.node('Add', [g.node('Mul', [xs[k - 1]!, coefficient(cx, `${stem}.c${k}`, rows[k]!, shape)], {}, `${stem}.c${k}x${k}`), acc], {}, `${stem}.sum${k}`);
  return g.node('Add', [acc, coefficient(cx, `${stem}.c0`, rows[0]!, shape)], {}, stem);
}

/** Channels of a mask whose every element is kept (1), none is (0), or some are (null: a pixel mask). */
export function channelKeep(node: Extract<PiNode, { op: 'mask' }>): (0 | 1)[] | null {
  const keep = unpackKeep(node);
  const c = node.shape[node.shape.length - 1]!;
  const per = keep.length / c;
  const out: (0 | 1)[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < per; i++) s += keep[i * c + ch]!;
    if (s !== 0 && s !== per) return null;
    out.push(s ? 1 : 0);
  }
  return out;
}

/** Consecutive channels with the same decision: `[start, end, kept]`. */
function runs(keep: (0 | 1)[]): [number, number, 0 | 1][] {
  const out: [number, number, 0 | 1][] = [];
  keep.forEach((k, i) => (out.length && out[out.length - 1]![2] === k ? (out[out.length - 1]![1] = i + 1) : out.push([i, i + 1, k])));
  return out;
}

/** Greatest common divisor. */
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * Cuts a tensor along channels into `parts` (`[start, end)`): `Slice` by public bounds, or (Athos,
 * whose `Split` only makes equal parts) `Split` into equal parts of the runs' common divisor.
 */
function cutChannels(cx: EncodeContext, x: string, parts: [number, number, 0 | 1][], stem: string): { piece: string; start: number; end: number; kept: 0 | 1 }[] {
  const { g } = cx;
  if (cx.profile.channelSplit === 'split') {
    const size = parts.reduce((a, [s, e]) => gcd(a, e - s), 0);
    const total = parts[parts.length - 1]![1];
    const pieces = g.multi('Split', [x], { axis: 1 }, `${stem}.part`, total / size);
    return pieces.map((piece, i) => ({ piece, start: i * size, end: (i + 1) * size, kept: parts.find(([s, e]) => i * size >= s && i * size < e)![2] }));
  }
  return parts.map(([start, end, kept], i) => {
    const c = (name: string, v: number) => g.constant(`${stem}.part${i}.${name}`, { dims: [1], int64: [v] });
    return { piece: g.node('Slice', [x, c('start', start), c('end', end), c('axis', 1), c('step', 1)], {}, `${stem}.part${i}`), start, end, kept };
  });
}

/** A channel mask: the tensor cut into runs of channels, ReLU or the polynomial on each, `Concat` back in order. */
function channelMask(node: Extract<PiNode, { op: 'mask' }>, x: string, keep: (0 | 1)[], rows: number[][], cx: EncodeContext): string {
  const { g } = cx;
  const parts = runs(keep);
  if (parts.length === 1) return keep[0] ? g.node('Relu', [x], {}, node.path) : polynomial(cx, x, rows, node.shape, node.path);
  const outs = cutChannels(cx, x, parts, node.path).map(({ piece, start, end, kept }, i) => {
    if (kept) return g.node('Relu', [piece], {}, `${node.path}.part${i}.relu`);
    const sub = rows.map((r) => (r.length === 1 ? r : r.slice(start, end)));
    return polynomial(cx, piece, sub, node.shape, `${node.path}.part${i}.poly`);
  });
  return g.node('Concat', outs, { axis: 1 }, node.path);
}

/** A pixel mask, exact: m⊙ReLU(x) + (1−m)⊙p(x) with m a public Constant (the importer still runs ReLU on every element). */
function pixelMask(node: Extract<PiNode, { op: 'mask' }>, x: string, rows: number[][], cx: EncodeContext): string {
  const { g } = cx;
  const m = toNchw(unpackKeep(node), node.shape);
  const dims = [1, ...(node.shape.length === 3 ? [node.shape[2]!, node.shape[0]!, node.shape[1]!] : node.shape)];
  const r = g.node('Mul', [g.node('Relu', [x], {}, `${node.path}.relu`), g.constant(`${node.path}.keep`, { dims, float: m })], {}, `${node.path}.kept`);
  const p = g.node('Mul', [polynomial(cx, x, rows, node.shape, `${node.path}.poly`), g.constant(`${node.path}.rest`, { dims, float: m.map((v) => 1 - v) })], {}, `${node.path}.replaced`);
  return g.node('Add', [r, p], {}, node.path);
}

const spatial = (k: number, stride: number, pad: number) => ({ kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] });

registerOnnxEncoding('input', (_node, _i, cx) => {
  const norm = cx.program.normalization;
  if (!norm) return 'input';
  // The input normalization as the first nodes: (x − mean) · (1/std), per channel, public.
  const c = norm.mean.length;
  const centred = cx.g.node('Sub', ['input', cx.g.constant('normalize.mean', { dims: [1, c, 1, 1], float: norm.mean })], {}, 'normalize.centred');
  return cx.g.node('Mul', [centred, cx.g.constant('normalize.inv_std', { dims: [1, c, 1, 1], float: norm.std.map((s) => 1 / s) })], {}, 'normalize');
});
registerOnnxEncoding('conv', (node, i, cx) => {
  const p = cx.params[String(i)]!;
  const { k, cin, cout } = node;
  // polynas keeps HWIO ([k,k,cin,cout]); ONNX wants OIHW. BatchNorm is already folded in.
  const w = new Float32Array(cout * cin * k * k);
  for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) w[((co * cin + ci) * k + ky) * k + kx] = p.weight![((ky * k + kx) * cin + ci) * cout + co]!;
  const weight = cx.g.initializer(`${node.path}.weight`, { dims: [cout, cin, k, k], float: w });
  const bias = cx.g.initializer(`${node.path}.bias`, { dims: [cout], float: p.bias! });
  return cx.g.node('Conv', [cx.values[node.in]!, weight, bias], { ...spatial(k, node.stride, node.pad), group: 1, dilations: [1, 1] }, node.path);
});
registerOnnxEncoding('linear', (node, i, cx) => {
  const p = cx.params[String(i)]!;
  // polynas keeps [in,out]; Gemm with transB = 1 takes [out,in] (PyTorch's layout).
  const w = new Float32Array(node.outF * node.inF);
  for (let o = 0; o < node.outF; o++) for (let j = 0; j < node.inF; j++) w[o * node.inF + j] = p.weight![j * node.outF + o]!;
  const weight = cx.g.initializer(`${node.path}.weight`, { dims: [node.outF, node.inF], float: w });
  const bias = cx.g.initializer(`${node.path}.bias`, { dims: [node.outF], float: p.bias! });
  return cx.g.node('Gemm', [cx.values[node.in]!, weight, bias], { alpha: { float: 1 }, beta: { float: 1 }, transA: 0, transB: 1 }, node.path);
});
registerOnnxEncoding('add', (node, i, cx) => cx.g.node('Add', [cx.values[node.in]!, cx.values[node.in2]!], {}, `add${i}`));
registerOnnxEncoding('relu', (node, _i, cx) => cx.g.node('Relu', [cx.values[node.in]!], {}, node.path));
registerOnnxEncoding('poly', (node, i, cx) => polynomial(cx, cx.values[node.in]!, cx.params[String(i)]!.coeffs!, node.shape, node.path));
registerOnnxEncoding('mask', (node, i, cx) => {
  const rows = cx.params[String(i)]!.coeffs!;
  const keep = channelKeep(node);
  return keep ? channelMask(node, cx.values[node.in]!, keep, rows, cx) : pixelMask(node, cx.values[node.in]!, rows, cx);
});
registerOnnxEncoding('maxpool', (node, _i, cx) => cx.g.node('MaxPool', [cx.values[node.in]!], spatial(node.k, node.stride, node.pad), node.path));
registerOnnxEncoding('avgpool', (node, _i, cx) => {
  const x = cx.values[node.in]!;
  if (cx.profile.id === 'plain' || node.pad === 0) return cx.g.node('AveragePool', [x], { ...spatial(node.k, node.stride, node.pad), count_include_pad: 0 }, node.path);
  // polynas leaves padded positions out of the mean; CrypTen and Athos ignore count_include_pad and
  // divide by k². The exact mean is that times k²/(valid inputs), a public per-position factor.
  const [h, w] = node.inShape as [number, number, number];
  const [oh, ow] = node.shape as [number, number, number];
  const valid = (o: number, size: number) => Math.min(o * node.stride - node.pad + node.k, size) - Math.max(o * node.stride - node.pad, 0);
  const factor = Array.from({ length: oh * ow }, (_, j) => (node.k * node.k) / (valid(Math.floor(j / ow), h) * valid(j % ow, w)));
  const pooled = cx.g.node('AveragePool', [x], { ...spatial(node.k, node.stride, node.pad), count_include_pad: 1 }, `${node.path}.sum`);
  return cx.g.node('Mul', [pooled, cx.g.constant(`${node.path}.valid`, { dims: [1, 1, oh, ow], float: factor })], {}, node.path);
});
registerOnnxEncoding('gap', (node, _i, cx) => cx.g.node('Flatten', [cx.g.node('GlobalAveragePool', [cx.values[node.in]!], {}, `${node.path}.pool`)], { axis: 1 }, node.path));
registerOnnxEncoding('flatten', (node, i, cx) => {
  const src = cx.program.nodes[node.in]!.shape;
  let x = cx.values[node.in]!;
  // polynas flattens NHWC (h, w, c) order; an NCHW tensor is transposed first unless the orders agree.
  if (src.length === 3 && src[0]! * src[1]! > 1 && src[2]! > 1) x = cx.g.node('Transpose', [x], { perm: [0, 2, 3, 1] }, `flatten${i}.nhwc`);
  return cx.g.node('Flatten', [x], { axis: 1 }, `flatten${i}`);
});

export { pathOf, toNchw };
