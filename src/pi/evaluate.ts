import type { PiContext } from './context.js';
import { maskSecret, open, privateProduct, relu, trunc } from './protocols.js';
import { unpackKeep, type PiNode, type PiProgram, type PiSecrets } from '../export/program.js';
import { encode, filled, ring, type Ring } from './ring.js';

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Party 0's encoded parameters of one node (undefined for the other roles). */
interface Encoded {
  weight?: Ring;
  bias?: Ring;
  /** Coefficient rows c_0 (at f + fw), c_1, c_2 (at fw), expanded per element for a mask's polynomial part. */
  coeffs?: Ring[];
}

/** Indices of a mask node's kept and polynomial elements. */
function maskIndices(node: Extract<PiNode, { op: 'mask' }>): { kept: Int32Array; rest: Int32Array } {
  const keep = unpackKeep(node);
  const kept: number[] = [];
  const rest: number[] = [];
  keep.forEach((k, i) => (k ? kept : rest).push(i));
  return { kept: Int32Array.from(kept), rest: Int32Array.from(rest) };
}

/** Coefficient count of a polynomial's rows as the protocol uses them (per element of a mask's rest). */
function coeffLength(node: PiNode): number {
  if (node.op === 'mask') return size(node.shape) - node.kept;
  if (node.op === 'poly') return node.coeffs === 'site' ? 1 : node.shape[node.shape.length - 1]!;
  return 0;
}

/** Party 0 encodes its secret parameters at the program's fixed point. */
export function encodeSecrets(program: PiProgram, secrets: PiSecrets): Map<number, Encoded> {
  const { frac: f, weightFrac: fw } = program.fixedPoint;
  const out = new Map<number, Encoded>();
  program.nodes.forEach((node, i) => {
    const p = secrets.params[String(i)];
    if (!p) return;
    if (p.weight) out.set(i, { weight: encode(p.weight, fw), bias: encode(p.bias!, f + fw) });
    if (p.coeffs) {
      let rows = p.coeffs;
      if (node.op === 'mask') {
        const { rest } = maskIndices(node);
        const c = node.shape[node.shape.length - 1]!;
        rows = rows.map((row) => Array.from(rest, (e) => row[row.length === 1 ? 0 : e % c]!));
      }
      out.set(i, { coeffs: rows.map((row, k) => encode(row, k === 0 ? f + fw : fw)) });
    }
  });
  return out;
}

/** The setup phase: party 0 masks every layer's weights and coefficients once and sends them to party 1. */
export async function setupPhase(cx: PiContext, program: PiProgram, enc: Map<number, Encoded>): Promise<void> {
  for (const [i, node] of program.nodes.entries()) {
    cx.at(i, -1);
    const e = enc.get(i);
    if (node.op === 'conv') await maskSecret(cx, 'w', e?.weight, node.k * node.k * node.cin * node.cout);
    else if (node.op === 'linear') await maskSecret(cx, 'w', e?.weight, node.inF * node.outF);
    else if (node.op === 'poly' || node.op === 'mask') {
      const m = coeffLength(node);
      if (m === 0) continue;
      await maskSecret(cx, 'c1', e?.coeffs?.[1], m);
      if (node.degree === 2) await maskSecret(cx, 'c2', e?.coeffs?.[2], m);
    }
  }
}

/**
 * `Σ_k c_k·x^k` (degree ≤ 2) with party 0's secret coefficients, cycled over the elements (length m).
 * Round 1 opens x − r for an (r, r²) pair: x² follows locally, and so does c₁·x through the dealer's
 * shares of b₁·r. Round 2 multiplies x² by c₂ (party 1 sends one masked word per element).
 * 24 bytes per element, 2 rounds (1 round, 16 bytes, at degree 1).
 */
async function polynomial(cx: PiContext, x: Ring, coeffs: Ring[] | undefined, m: number, degree: number): Promise<Ring> {
  const n = x.length;
  const { frac: f, weightFrac: fw } = cx.fp;
  const setup1 = cx.setup('c1');
  const mat = await cx.material((s) => {
    const r0 = s.draw(0, n), q0 = degree === 2 ? s.draw(0, n) : undefined, t0 = s.draw(0, n), r1 = s.draw(1, n);
    const b1 = setup1.draw(0, m);
    let full: Ring | undefined;
    const r = (): Ring => (full ??= ring.add(r0!, r1!));
    // x² needs r² (degree 2 only).
    const q1 = degree === 2 ? s.correct(n, () => ring.sub(ring.mul(r(), r()), q0!)) : undefined;
    const t1 = s.correct(n, () => ring.sub(ring.mul(r(), b1!), t0!));
    return s.holder === 1 ? { r: r1!, q: q1, t: t1! } : { r: r0!, q: q0, t: t0! };
  });
  let linear: Ring = new BigUint64Array(n);
  let square: Ring = new BigUint64Array(n);
  if (!cx.isDealer) {
    const e = await open(cx, ring.sub(x, mat.r));
    if (mat.q) {
      let sq = ring.add(ring.mul(ring.mul(e, mat.r), filled(1, 2n)), mat.q);
      if (cx.party === 0) sq = ring.add(sq, ring.mul(e, e));
      square = trunc(cx, sq, f);
    }
    const f1 = cx.party === 0 ? ring.sub(coeffs![1]!, cx.setup('c1').draw(0, m)!) : cx.setupValues.get(`${cx.node}/c1`)!;
    linear = ring.add(ring.mul(mat.r, f1), mat.t);
    if (cx.party === 0) linear = ring.add(ring.add(linear, ring.mul(e, coeffs![1]!)), coeffs![0]!);
  }
  if (degree === 2) {
    const z = await privateProduct(cx, 'c2', square, coeffs?.[2], { x: n, v: m, out: n }, (a, b) => ring.mul(a, b));
    linear = cx.isDealer ? linear : ring.add(linear, z);
  }
  return trunc(cx, linear, fw);
}

/** Reciprocals of the valid-input counts of every pooling window, at fw bits, per element of a sample. */
function reciprocals(node: { k: number; stride: number; pad: number; inShape: number[]; shape: number[] }, fw: number): Ring {
  const [h, w] = node.inShape as [number, number];
  const [oh, ow, c] = node.shape as [number, number, number];
  const span = (o: number, n: number): number => Math.min(n, o * node.stride - node.pad + node.k) - Math.max(0, o * node.stride - node.pad);
  const out = new BigUint64Array(oh * ow * c);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out.fill(BigInt(Math.round(2 ** fw / (span(y, h) * span(x, w)))), (y * ow + x) * c, (y * ow + x + 1) * c);
  return out;
}

/** Max over each group of m consecutive elements by a tree of comparisons (m − 1 per group). */
async function groupMax(cx: PiContext, x: Ring, m: number): Promise<Ring> {
  let v = x;
  for (let width = m; width > 1; width = Math.ceil(width / 2)) {
    const half = Math.floor(width / 2);
    const a = ring.strided(v, width, 0, half, 2), b = ring.strided(v, width, 1, half, 2);
    const maxes = ring.add(b, await relu(cx, ring.sub(a, b)));
    if (width % 2 === 0) v = maxes;
    else {
      const next = new BigUint64Array((v.length / width) * (half + 1));
      ring.scatter(next, maxes, Int32Array.from({ length: half }, (_, j) => j), half + 1);
      ring.scatter(next, ring.strided(v, width, width - 1, 1, 1), Int32Array.of(half), half + 1);
      v = next;
    }
  }
  return v;
}

/** Evaluates one node on this role's shares (the dealer, which holds none, runs it on zeros to produce the node's material). */
export async function evaluateNode(cx: PiContext, node: PiNode, inputs: Ring[], batch: number, enc: Encoded | undefined): Promise<Ring> {
  const fw = cx.fp.weightFrac;
  const x = inputs[0]!;
  switch (node.op) {
    case 'input':
      return x;
    case 'flatten':
      return x;
    case 'add':
      return ring.add(x, inputs[1]!);
    case 'conv': {
      const [h, w, c] = node.inShape as [number, number, number];
      const g = { n: batch, h, w, c, k: node.k, o: node.cout, stride: node.stride, pad: node.pad };
      const y = await privateProduct(cx, 'w', x, enc?.weight, { x: x.length, v: node.k * node.k * node.cin * node.cout, out: batch * size(node.shape) }, (a, b) => ring.conv2d(a, b, g));
      return trunc(cx, !cx.isDealer && cx.party === 0 ? ring.add(y, enc!.bias!) : y, fw);
    }
    case 'linear': {
      const y = await privateProduct(cx, 'w', x, enc?.weight, { x: x.length, v: node.inF * node.outF, out: batch * node.outF }, (a, b) => ring.matmul(a, b, batch, node.inF, node.outF));
      return trunc(cx, !cx.isDealer && cx.party === 0 ? ring.add(y, enc!.bias!) : y, fw);
    }
    case 'relu':
      return relu(cx, x);
    case 'poly':
      return polynomial(cx, x, enc?.coeffs, coeffLength(node), node.degree);
    case 'mask': {
      const n = size(node.shape);
      const { kept, rest } = maskIndices(node);
      // The kept elements' comparisons and the rest's polynomial run at the same time on two
      // streams, so the site takes the ReLU's 9 rounds, not 9 + 2.
      const out = new BigUint64Array(x.length);
      const [r, p] = await Promise.all([
        kept.length ? relu(cx.fork(1), ring.gather(x, kept, n)) : undefined,
        rest.length ? polynomial(cx.fork(2), ring.gather(x, rest, n), enc?.coeffs, rest.length, node.degree) : undefined,
      ]);
      if (r) ring.scatter(out, r, kept, n);
      if (p) ring.scatter(out, p, rest, n);
      return out;
    }
    case 'avgpool':
    case 'gap': {
      const [h, w, c] = node.inShape as [number, number, number];
      const geo = node.op === 'gap' ? { k: h, stride: h, pad: 0 } : node;
      if (node.op === 'gap' && h !== w) throw new Error(`'${node.path}': global pooling of a ${h}×${w} map (the runtime pools square maps)`);
      const sums = ring.rowSum(ring.windows(x, { n: batch, h, w, c, k: geo.k, stride: geo.stride, pad: geo.pad }, false), geo.k * geo.k);
      const recip = reciprocals({ ...geo, inShape: node.inShape, shape: node.op === 'gap' ? [1, 1, c] : node.shape }, fw);
      return trunc(cx, ring.mul(sums, recip), fw);
    }
    case 'maxpool': {
      const [h, w, c] = node.inShape as [number, number, number];
      return groupMax(cx, ring.windows(x, { n: batch, h, w, c, k: node.k, stride: node.stride, pad: node.pad }, true), node.k * node.k);
    }
  }
}

/** Shares of the network's output for one batch; `traffic` buckets are named `<index>:<op>[:<path>]`. */
export async function runProgram(cx: PiContext, program: PiProgram, enc: Map<number, Encoded>, input: Ring, batch: number, batchIndex: number, onNode?: (i: number, ms: number) => void): Promise<Ring> {
  const values: Ring[] = [];
  for (const [i, node] of program.nodes.entries()) {
    cx.at(i, batchIndex);
    for (const ch of [cx.peer, cx.material1]) if (ch) ch.bucket = bucketName(i, node);
    const t0 = performance.now();
    const inputs = node.op === 'input' ? [input] : node.op === 'add' ? [values[node.in]!, values[node.in2]!] : [values[node.in]!];
    values.push(await evaluateNode(cx, node, inputs, batch, enc.get(i)));
    onNode?.(i, performance.now() - t0);
  }
  return values[values.length - 1]!;
}

/** Accounting bucket of a node. */
export function bucketName(i: number, node: PiNode): string {
  return `${i}:${node.op}${'path' in node ? `:${node.path}` : ''}`;
}

