import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A vector of Z_2^64 elements (shares, or public ring values). */
export type Ring = BigUint64Array;

interface RingAddon {
  binary(op: number, a: Ring, b: Ring): Ring;
  shift(a: Ring, k: number, kind: number): Ring;
  truncate(a: Ring, f: number, party: number): Ring;
  gather(a: Ring, idx: Int32Array, n: number): Ring;
  scatter(into: Ring, a: Ring, idx: Int32Array, n: number): Ring;
  matmul(x: Ring, w: Ring, n: number, k: number, m: number): Ring;
  conv2d(x: Ring, w: Ring, geometry: number[]): Ring;
  windows(x: Ring, geometry: number[], repeatFirst: boolean): Ring;
  rowSum(a: Ring, m: number): Ring;
  strided(a: Ring, m: number, offset: number, count: number, step: number): Ring;
}

/** Path of the compiled ring arithmetic (built by `npm run build:torch`; it needs a C++ compiler, not LibTorch). */
export const RING_ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'ring', 'build', 'Release', 'polynas_ring.node');

let addon: RingAddon | undefined;

/** The native ring arithmetic; throws with build instructions when it has not been built. */
export function ringAddon(): RingAddon {
  if (addon) return addon;
  if (!existsSync(RING_ADDON_PATH)) {
    throw new Error(`the 2PC runtime's native ring arithmetic is not built (${RING_ADDON_PATH} is missing); run \`npm run build:torch\` (it needs a C++ compiler and node-gyp; LibTorch is optional)`);
  }
  addon = createRequire(import.meta.url)(RING_ADDON_PATH) as RingAddon;
  return addon;
}

const OPS = { add: 0, sub: 1, mul: 2, xor: 3, and: 4 } as const;

/**
 * Element-wise ring operations in native code. The second operand cycles: a scalar (length 1), one
 * value per channel of NHWC data, or one per element of a sample, repeated over the batch.
 */
export const ring = {
  add: (a: Ring, b: Ring): Ring => ringAddon().binary(OPS.add, a, b),
  sub: (a: Ring, b: Ring): Ring => ringAddon().binary(OPS.sub, a, b),
  mul: (a: Ring, b: Ring): Ring => ringAddon().binary(OPS.mul, a, b),
  xor: (a: Ring, b: Ring): Ring => ringAddon().binary(OPS.xor, a, b),
  and: (a: Ring, b: Ring): Ring => ringAddon().binary(OPS.and, a, b),
  shl: (a: Ring, k: number): Ring => ringAddon().shift(a, k, 0),
  shr: (a: Ring, k: number): Ring => ringAddon().shift(a, k, 1),
  /** SecureML local truncation of party `party`'s share by 2^f. */
  truncate: (a: Ring, f: number, party: 0 | 1): Ring => ringAddon().truncate(a, f, party),
  gather: (a: Ring, idx: Int32Array, n: number): Ring => ringAddon().gather(a, idx, n),
  scatter: (into: Ring, a: Ring, idx: Int32Array, n: number): Ring => ringAddon().scatter(into, a, idx, n),
  matmul: (x: Ring, w: Ring, n: number, k: number, m: number): Ring => ringAddon().matmul(x, w, n, k, m),
  /** NHWC convolution, HWIO weight `[k,k,c,o]`, zero padding. */
  conv2d: (x: Ring, w: Ring, g: { n: number; h: number; w: number; c: number; k: number; o: number; stride: number; pad: number }): Ring =>
    ringAddon().conv2d(x, w, [g.n, g.h, g.w, g.c, g.k, g.o, g.stride, g.pad]),
  /** Pooling windows `[N,OH,OW,C,k·k]`; padding is 0, or the window's first valid element when `repeatFirst`. */
  windows: (x: Ring, g: { n: number; h: number; w: number; c: number; k: number; stride: number; pad: number }, repeatFirst: boolean): Ring =>
    ringAddon().windows(x, [g.n, g.h, g.w, g.c, g.k, g.stride, g.pad], repeatFirst),
  rowSum: (a: Ring, m: number): Ring => ringAddon().rowSum(a, m),
  /** From each group of m: `count` elements from `offset`, `step` apart. */
  strided: (a: Ring, m: number, offset: number, count: number, step: number): Ring => ringAddon().strided(a, m, offset, count, step),
};

/** A ring vector holding one value n times. */
export function filled(n: number, v: bigint): Ring {
  return new BigUint64Array(n).fill(BigInt.asUintN(64, v));
}

/** Concatenation of ring vectors. */
export function concatRing(parts: readonly Ring[]): Ring {
  const out = new BigUint64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes reals at `frac` fractional bits (round to nearest), as ring elements. */
export function encode(values: ArrayLike<number>, frac: number): Ring {
  const out = new BigUint64Array(values.length);
  const s = 2 ** frac;
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]! * s);
    if (!Number.isSafeInteger(v)) throw new Error(`fixed point: ${values[i]} does not fit at ${frac} fractional bits`);
    out[i] = BigInt.asUintN(64, BigInt(v));
  }
  return out;
}

/** Decodes ring elements (two's complement) at `frac` fractional bits. */
export function decode(values: Ring, frac: number): Float64Array {
  const out = new Float64Array(values.length);
  const s = 2 ** -frac;
  for (let i = 0; i < values.length; i++) out[i] = Number(BigInt.asIntN(64, values[i]!)) * s;
  return out;
}
