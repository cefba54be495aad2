import type { PiContext } from './context.js';
import { andTriple, mulTriple, oneSided, sharedBit, type Source } from './material.js';
import { concatRing, filled, ring, type Ring } from './ring.js';

const ONE = filled(1, 1n);
const TWO = filled(1, 2n);
const BIT = filled(1, 1n);

/** Opens a shared vector: both parties send their share (one round). */
export async function open(cx: PiContext, x: Ring): Promise<Ring> {
  return ring.add(x, await cx.exchange(x));
}

/** Beaver multiplication of two shared vectors (one round, 2 words sent per element per party). */
export async function mul(cx: PiContext, x: Ring, y: Ring): Promise<Ring> {
  const n = x.length;
  const t = await cx.material((s) => mulTriple(s, n));
  if (cx.isDealer) return new BigUint64Array(n);
  const de = await open(cx, concatRing([ring.sub(x, t.a), ring.sub(y, t.b)]));
  const d = de.subarray(0, n), e = de.subarray(n);
  let z = ring.add(t.c, ring.add(ring.mul(d, t.b), ring.mul(e, t.a)));
  if (cx.party === 0) z = ring.add(z, ring.mul(d, e));
  return z;
}

/** Beaver AND of two XOR-shared vectors of 64-bit words (one round). */
export async function and(cx: PiContext, x: Ring, y: Ring): Promise<Ring> {
  const n = x.length;
  const t = await cx.material((s) => andTriple(s, n));
  if (cx.isDealer) return new BigUint64Array(n);
  const mine = concatRing([ring.xor(x, t.a), ring.xor(y, t.b)]);
  const de = ring.xor(mine, await cx.exchange(mine));
  const d = de.subarray(0, n), e = de.subarray(n);
  let z = ring.xor(t.c, ring.xor(ring.and(d, t.b), ring.and(e, t.a)));
  if (cx.party === 0) z = ring.xor(z, ring.and(d, e));
  return z;
}

/**
 * The sign bit of a shared value, XOR-shared in bit 0: CrypTen's A2B. Each party's additive share
 * is a binary-shared 64-bit number (its own share, and 0 for the other), and the two are added by a
 * Kogge–Stone carry-lookahead adder: one AND for the generate bits, then six levels of two ANDs
 * (1 + 6 rounds). Bit 63 of the sum is `x₀₆₃ ⊕ x₁₆₃ ⊕ carry₆₃`.
 */
export async function signBit(cx: PiContext, x: Ring): Promise<Ring> {
  const n = x.length;
  const zero = new BigUint64Array(n);
  const own = cx.isDealer ? zero : x;
  let g = await and(cx, cx.isDealer || cx.party === 0 ? own : zero, cx.isDealer || cx.party === 1 ? own : zero);
  let p = own;
  for (let k = 1; k < 64; k *= 2) {
    const t = await and(cx, concatRing([p, p]), concatRing([ring.shl(g, k), ring.shl(p, k)]));
    g = ring.xor(g, t.subarray(0, n));
    p = t.subarray(n);
  }
  return ring.and(ring.xor(ring.shr(own, 63), ring.shr(g, 62)), BIT);
}

/** An XOR-shared bit (bit 0) as an additive sharing of 0/1: B2A with a random shared bit (one round). */
export async function bitToArith(cx: PiContext, b: Ring): Promise<Ring> {
  const n = b.length;
  const r = await cx.material((s) => sharedBit(s, n));
  if (cx.isDealer) return new BigUint64Array(n);
  const mine = ring.xor(b, r.binary);
  const z = ring.and(ring.xor(mine, await cx.exchange(mine)), BIT);
  // b = z ⊕ r = z + r − 2zr
  let out = ring.sub(r.arith, ring.mul(ring.mul(z, r.arith), TWO));
  if (cx.party === 0) out = ring.add(out, z);
  return out;
}

/**
 * ReLU by secure comparison, as CrypTen does it: the sign bit by A2B (7 rounds), B2A of that bit
 * (1 round), and x·(1 − sign) by a Beaver multiplication (1 round): 9 rounds and 232 bytes per
 * element per party.
 */
export async function relu(cx: PiContext, x: Ring): Promise<Ring> {
  const b = await bitToArith(cx, await signBit(cx, x));
  const negated = ring.sub(new BigUint64Array(b.length), b);
  return mul(cx, x, !cx.isDealer && cx.party === 0 ? ring.add(negated, ONE) : negated);
}

/** Local truncation by 2^f (SecureML). */
export function trunc(cx: PiContext, x: Ring, f: number): Ring {
  return cx.isDealer ? x : ring.truncate(x, f, cx.party);
}

/**
 * Setup of a product with a value party 0 holds in the clear (a layer's weights, a polynomial's
 * coefficients): party 0 sends `F = v − b` for the mask b of its setup stream, once per session.
 */
export async function maskSecret(cx: PiContext, key: string, value: Ring | undefined, n: number): Promise<void> {
  const b = cx.setup(key).draw(0, n);
  if (cx.isDealer) return;
  if (cx.party === 0) await cx.send(ring.sub(value!, b!));
  else cx.setupValues.set(`${cx.node}/${key}`, await cx.receive());
}

/**
 * `f(x, v)` for a shared x and a v party 0 holds (f bilinear: a convolution, a matrix product, an
 * element-wise product). Party 1 sends `x₁ − a` (one message); party 0 computes `f(x₀ + x₁ − a, v)`,
 * party 1 `f(a, v − b)`, and the dealer's shares of `f(a, b)` complete the sum.
 */
export async function privateProduct(cx: PiContext, key: string, x: Ring | undefined, v: Ring | undefined, sizes: { x: number; v: number; out: number }, f: (a: Ring, b: Ring) => Ring): Promise<Ring> {
  const setup = cx.setup(key);
  const m = await cx.material((s: Source) => oneSided(s, setup, sizes.x, sizes.v, sizes.out, f));
  if (cx.isDealer) return new BigUint64Array(sizes.out);
  if (cx.party === 1) {
    await cx.send(ring.sub(x!, m.a!));
    return ring.add(f(m.a!, cx.setupValues.get(`${cx.node}/${key}`)!), m.z);
  }
  const e = await cx.receive();
  return ring.add(f(ring.add(x!, e), v!), m.z);
}
