import { unpackKeep, type PiNode, type PiProgram, type PiSecrets } from '../export/program.js';

/**
 * An independent plaintext evaluation of a lowered network in the runtime's fixed point, for
 * checking the 2PC result: the same encodings and the same truncation points, with every
 * truncation an exact floor. It shares no code with the secure path (no native ring code, no
 * protocol): integers are JavaScript numbers, and every intermediate is checked to be a safe
 * integer (|v| < 2^53), so the arithmetic is exact or the evaluation stops and says where.
 */
export function referenceLogits(program: PiProgram, secrets: PiSecrets, images: Float32Array, samples: number): number[][] {
  const { frac: f, weightFrac: fw } = program.fixedPoint;
  const inSize = program.inputShape.reduce((a, b) => a * b, 1);
  const out: number[][] = [];
  for (let s = 0; s < samples; s++) {
    const values: number[][] = [];
    for (const [i, node] of program.nodes.entries()) {
      const x = node.op === 'input' ? encodeImage(program, images.subarray(s * inSize, (s + 1) * inSize)) : values[node.in]!;
      values.push(check(evalNode(node, x, node.op === 'add' ? values[node.in2]! : [], secrets.params[String(i)], f, fw), node));
    }
    out.push(values[values.length - 1]!.map((v) => v / 2 ** f));
  }
  return out;
}

function check(v: number[], node: PiNode): number[] {
  for (const x of v) if (!Number.isSafeInteger(x)) throw new Error(`reference: a value of node '${'path' in node ? node.path : node.op}' leaves the exact range (${x})`);
  return v;
}

const fix = (v: number, bits: number): number => Math.round(v * 2 ** bits);
const floorShift = (v: number, bits: number): number => Math.floor(v / 2 ** bits);

function encodeImage(program: PiProgram, img: Float32Array): number[] {
  const c = program.inputShape[2]!;
  const norm = program.normalization;
  return Array.from(img, (v, i) => fix(norm ? (v - norm.mean[i % c]!) / norm.std[i % c]! : v, program.fixedPoint.frac));
}

type Params = PiSecrets['params'][string] | undefined;

function poly(x: number, c: number[], f: number, fw: number): number {
  const [c0 = 0, c1 = 0, c2] = c;
  let acc = fix(c0, f + fw) + fix(c1, fw) * x;
  if (c2 !== undefined) acc += fix(c2, fw) * floorShift(x * x, f);
  return floorShift(acc, fw);
}

function coeffsAt(p: Params, channel: number): number[] {
  return p!.coeffs!.map((row) => row[row.length === 1 ? 0 : channel]!);
}

function evalNode(node: PiNode, x: number[], x2: number[], p: Params, f: number, fw: number): number[] {
  switch (node.op) {
    case 'input':
    case 'flatten':
      return x;
    case 'add':
      return x.map((v, i) => v + x2[i]!);
    case 'relu':
      return x.map((v) => Math.max(0, v));
    case 'poly': {
      const c = node.shape[node.shape.length - 1]!;
      return x.map((v, i) => poly(v, coeffsAt(p, i % c), f, fw));
    }
    case 'mask': {
      const keep = unpackKeep(node);
      const c = node.shape[node.shape.length - 1]!;
      return x.map((v, i) => (keep[i] ? Math.max(0, v) : poly(v, coeffsAt(p, i % c), f, fw)));
    }
    case 'linear': {
      const w = p!.weight!.map((v) => fix(v, fw));
      return Array.from({ length: node.outF }, (_, o) => {
        let acc = fix(p!.bias![o]!, f + fw);
        for (let k = 0; k < node.inF; k++) acc += x[k]! * w[k * node.outF + o]!;
        return floorShift(acc, fw);
      });
    }
    case 'conv':
      return conv(node, x, p!, fw, f);
    case 'maxpool':
    case 'avgpool':
    case 'gap':
      return pool(node, x, fw);
  }
}

function conv(node: Extract<PiNode, { op: 'conv' }>, x: number[], p: NonNullable<Params>, fw: number, f: number): number[] {
  const [h, w, cin] = node.inShape as [number, number, number];
  const [oh, ow, cout] = node.shape as [number, number, number];
  const wt = p.weight!.map((v) => fix(v, fw));
  const out = new Array<number>(oh * ow * cout);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let o = 0; o < cout; o++) {
        let acc = fix(p.bias![o]!, f + fw);
        for (let ky = 0; ky < node.k; ky++) {
          const iy = oy * node.stride - node.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < node.k; kx++) {
            const ix = ox * node.stride - node.pad + kx;
            if (ix < 0 || ix >= w) continue;
            for (let c = 0; c < cin; c++) acc += x[(iy * w + ix) * cin + c]! * wt[((ky * node.k + kx) * cin + c) * cout + o]!;
          }
        }
        if (!Number.isSafeInteger(acc)) throw new Error(`reference: conv '${node.path}' accumulates beyond the exact range`);
        out[(oy * ow + ox) * cout + o] = floorShift(acc, fw);
      }
  return out;
}

function pool(node: Extract<PiNode, { op: 'maxpool' | 'avgpool' | 'gap' }>, x: number[], fw: number): number[] {
  const [h, w, c] = node.inShape as [number, number, number];
  const { k, stride, pad } = node.op === 'gap' ? { k: h, stride: h, pad: 0 } : node;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1, ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out: number[] = [];
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let ch = 0; ch < c; ch++) {
        const vals: number[] = [];
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) vals.push(x[(iy * w + ix) * c + ch]!);
          }
        if (node.op === 'maxpool') out.push(Math.max(...vals));
        else out.push(floorShift(vals.reduce((a, b) => a + b, 0) * Math.round(2 ** fw / vals.length), fw));
      }
  return out;
}
