import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mul, relu } from '../../src/pi/protocols.js';
import { Prg, freshSeed } from '../../src/pi/prg.js';
import { decode, encode, ring, RING_ADDON_PATH, type Ring } from '../../src/pi/ring.js';
import { phases, session, skipPi } from './harness.js';

const M = 1n << 64n;
const big = (v: bigint): bigint => ((v % M) + M) % M;

function random(n: number, label = 'x'): Ring {
  return new Prg(freshSeed(), label).next(n);
}

/** Additive shares of x. */
function share(x: Ring): [Ring, Ring] {
  const x0 = random(x.length, 'share');
  return [x0, ring.sub(x, x0)];
}

/** Pearson's chi-square statistic of byte counts against uniform (255 degrees of freedom). */
function chiSquareUniform(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  const e = bytes.length / 256;
  return counts.reduce((a, c) => a + (c - e) ** 2 / e, 0);
}

/** Two-sample chi-square statistic of two byte histograms (255 degrees of freedom). */
function chiSquareTwoSample(a: Uint8Array, b: Uint8Array): number {
  const ca = new Array<number>(256).fill(0), cb = new Array<number>(256).fill(0);
  for (const v of a) ca[v]!++;
  for (const v of b) cb[v]!++;
  const ka = Math.sqrt(b.length / a.length), kb = Math.sqrt(a.length / b.length);
  return ca.reduce((s, x, i) => (x + cb[i]! === 0 ? s : s + (ka * x - kb * cb[i]!) ** 2 / (x + cb[i]!)), 0);
}
// 255 degrees of freedom: the 99.99th percentile is about 358.
const CHI2_LIMIT = 358;

describe.skipIf(skipPi)('2PC ring arithmetic and protocols', () => {
  it('is built wherever the 2PC tests run (so a required build that is missing fails here)', () => {
    expect(existsSync(RING_ADDON_PATH)).toBe(true);
  });

  it('element-wise ring operations wrap modulo 2^64 (against BigInt)', () => {
    const a = random(1000, 'a'), b = random(1000, 'b');
    const [add, sub, prod] = [ring.add(a, b), ring.sub(a, b), ring.mul(a, b)];
    for (let i = 0; i < a.length; i++) {
      expect(add[i]).toBe(big(a[i]! + b[i]!));
      expect(sub[i]).toBe(big(a[i]! - b[i]!));
      expect(prod[i]).toBe(big(a[i]! * b[i]!));
    }
  });

  it('convolutions and matrix products in the ring wrap exactly (full-range values, against BigInt)', () => {
    const [n, h, w, c, k, o, stride, pad] = [2, 5, 4, 3, 3, 4, 2, 1];
    const x = random(n * h * w * c, 'cx'), wt = random(k * k * c * o, 'cw');
    const y = ring.conv2d(x, wt, { n, h, w, c, k, o, stride, pad });
    const oh = Math.floor((h + 2 * pad - k) / stride) + 1, ow = Math.floor((w + 2 * pad - k) / stride) + 1;
    expect(y.length).toBe(n * oh * ow * o);
    for (let s = 0; s < n; s++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let j = 0; j < o; j++) {
            let acc = 0n;
            for (let ky = 0; ky < k; ky++)
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ci = 0; ci < c; ci++) acc += x[((s * h + iy) * w + ix) * c + ci]! * wt[((ky * k + kx) * c + ci) * o + j]!;
              }
            expect(y[((s * oh + oy) * ow + ox) * o + j]).toBe(big(acc));
          }
    const a = random(6 * 5, 'ma'), bm = random(5 * 7, 'mb');
    const p = ring.matmul(a, bm, 6, 5, 7);
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 7; j++) {
        let acc = 0n;
        for (let q = 0; q < 5; q++) acc += a[i * 5 + q]! * bm[q * 7 + j]!;
        expect(p[i * 7 + j]).toBe(big(acc));
      }
  });

  it('local truncation gives ⌊x/2^f⌋ or one more (never a wrap for small values)', () => {
    const xs = Array.from({ length: 20_000 }, (_, i) => (i - 10_000) * 0.731);
    const x = encode(xs, 24);
    const [x0, x1] = share(x);
    const t = decode(ring.add(ring.truncate(x0, 12, 0), ring.truncate(x1, 12, 1)), 12);
    for (let i = 0; i < xs.length; i++) {
      const floor = Math.floor(Number(BigInt.asIntN(64, x[i]!)) / 4096) / 4096;
      expect(t[i]! - floor).toBeGreaterThanOrEqual(0);
      expect(t[i]! - floor).toBeLessThanOrEqual(1 / 4096 + 1e-12);
    }
  });

  describe('over loopback TCP (dealer, party 0, party 1 in this process)', () => {
    let s: Awaited<ReturnType<typeof session>>;
    beforeAll(async () => void (s = await session()));
    afterAll(() => s.close());

    it('a Beaver product reconstructs x·y mod 2^64 exactly, for full-range secrets', async () => {
      const x = random(4096, 'x'), y = random(4096, 'y');
      const [x0, x1] = share(x), [y0, y1] = share(y);
      const [z0, z1] = await phases(s, (cx, r) => (r === 1 ? mul(cx, x1, y1) : mul(cx, x0, y0)));
      const z = ring.add(z0, z1);
      for (let i = 0; i < x.length; i++) expect(z[i]).toBe(big(x[i]! * y[i]!));
    });

    it('ReLU by A2B comparison is exact on ±2^40, costs 232 bytes and 9 rounds per party per layer (the crypten-2pc-dealer entry)', async () => {
      const table = JSON.parse(readFileSync(join(__dirname, '..', '..', 'latency-tables', 'crypten-2pc-dealer.json'), 'utf8')) as { ops: { relu: { bytesTotal: number; rounds: number } } };
      const n = 5000;
      const x = random(n, 'relu');
      for (let i = 0; i < n; i++) x[i] = BigInt.asUintN(64, BigInt.asIntN(41, x[i]!));
      x[0] = 0n;
      x[1] = BigInt.asUintN(64, -1n);
      const [x0, x1] = share(x);
      s.p0.link.bucket = 'relu-test';
      const [y0, y1] = await phases(s, (cx, r) => relu(cx, r === 1 ? x1 : x0));
      const y = ring.add(y0, y1);
      for (let i = 0; i < n; i++) expect(y[i]).toBe(BigInt.asIntN(64, x[i]!) > 0n ? x[i] : 0n);
      const t = s.p0.link.buckets.get('relu-test')!;
      expect(t.sent / n).toBe(table.ops.relu.bytesTotal / 2);
      expect(t.received / n).toBe(table.ops.relu.bytesTotal / 2);
      expect(t.rounds).toBe(table.ops.relu.rounds);
    });

    it("what party 0 receives during a ReLU is uniform and alike for two different secrets of party 1's input", async () => {
      const words: Uint8Array[] = [];
      const bits: number[] = [];
      for (const secret of [3.25, -1.5]) {
        const frames: Buffer[] = [];
        s.p0.link.tap = (f) => frames.push(Buffer.from(f));
        const x = encode(new Array<number>(4000).fill(secret), 12);
        const [x0, x1] = share(x);
        await phases(s, (cx, r) => relu(cx, r === 1 ? x1 : x0));
        s.p0.link.tap = undefined;
        expect(frames).toHaveLength(9);
        const asWords = (f: Buffer): bigint[] => Array.from(new BigUint64Array(new Uint8Array(f).buffer));
        // Frames 0–6 (A2B's ANDs) and 8 (the multiplication) carry masked 64-bit words: their low bytes
        // must look uniform. Frame 7 (B2A) carries one masked bit per element.
        words.push(Uint8Array.from(frames.filter((_, i) => i !== 7).flatMap(asWords), (w) => Number(w & 0xffn)));
        const b = asWords(frames[7]!);
        bits.push(b.filter((w) => w === 1n).length / b.length);
        expect(b.every((w) => w <= 1n)).toBe(true);
      }
      for (const v of words) expect(chiSquareUniform(v)).toBeLessThan(CHI2_LIMIT);
      expect(chiSquareTwoSample(words[0]!, words[1]!)).toBeLessThan(CHI2_LIMIT);
      // 4000 fair bits: the fraction of ones is within ±4.5σ (σ ≈ 0.0079) of ½ for either secret.
      for (const f of bits) expect(Math.abs(f - 0.5)).toBeLessThan(0.036);
    });
  });
});

describe.skipIf(skipPi)('2PC polynomials and linear layers (in-process roles over loopback TCP)', () => {
  it('a secret-coefficient polynomial c₀ + c₁x + c₂x² equals ⌊(c₀ + c₁x + c₂⌊x²/2^f⌋)/2^fw⌋ within one ulp per truncation, in 2 rounds and 24 bytes per element', async () => {
    const { evaluateNode, encodeSecrets, setupPhase } = await import('../../src/pi/evaluate.js');
    const s = await session();
    const f = 12, fw = 16;
    const n = 3000, channels = 3;
    const program = {
      format: 'polynas-pi-program' as const, version: 1 as const, backbone: 't', inputShape: [1, 1000, channels], numClasses: 1, fixedPoint: { ringBits: 64 as const, frac: f, weightFrac: fw },
      nodes: [{ op: 'input' as const, shape: [1, 1000, channels] }, { op: 'poly' as const, path: 'p', in: 0, degree: 2, coeffs: 'channel' as const, shape: [1, 1000, channels] }],
    };
    const coeffs = [[0.1, -0.2, 0.05], [0.5, 1, -0.75], [0.0021, 0.3, -0.01]];
    const enc = encodeSecrets(program, { format: 'polynas-pi-secrets', version: 1, programHash: '', params: { '1': { coeffs } } });
    const xs = Array.from({ length: n }, (_, i) => ((i * 7919) % 2000) / 100 - 10);
    const [x0, x1] = share(encode(xs, f));
    await Promise.all([setupPhase(s.dealer, program, new Map()), setupPhase(s.p0, program, enc), setupPhase(s.p1, program, new Map())]);
    s.p0.link.bucket = 'poly';
    const [y0, y1] = await phases(s, (cx, r) => {
      cx.at(1, 0);
      return evaluateNode(cx, program.nodes[1]!, [r === 0 ? x0 : r === 1 ? x1 : new BigUint64Array(n)], 1, r === 0 ? enc.get(1) : undefined);
    });
    const y = ring.add(y0, y1);
    const fix = (v: number, b: number): bigint => BigInt(Math.round(v * 2 ** b));
    for (let i = 0; i < n; i++) {
      const c = i % channels;
      const x = BigInt.asIntN(64, encode([xs[i]!], f)[0]!);
      const sq = (x * x) >> BigInt(f);
      const exact = (fix(coeffs[0]![c]!, f + fw) + fix(coeffs[1]![c]!, fw) * x + fix(coeffs[2]![c]!, fw) * sq) >> BigInt(fw);
      // Two truncations: x² (its error is multiplied by c₂, under one ulp of the result) and the sum.
      expect(Number(BigInt.asIntN(64, y[i]!) - exact)).toBeGreaterThanOrEqual(-1);
      expect(Number(BigInt.asIntN(64, y[i]!) - exact)).toBeLessThanOrEqual(2);
    }
    const t = s.p0.link.buckets.get('poly')!;
    expect(t.sent + t.received).toBe(24 * n);
    expect(t.rounds).toBe(2);
    s.close();
  });
});
