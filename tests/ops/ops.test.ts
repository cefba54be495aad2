import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { dapaCoefficients } from '../../src/ops/dapa.js';
import { normalCdf } from '../../src/ops/gaussian.js';
import { ChannelPoly } from '../../src/ops/poly.js';
import { X2act } from '../../src/ops/x2act.js';

/** Reference: weighted least squares of ReLU on a fine grid over μ ± 10σ with Gaussian weights (float64). */
function numericalFit(mu: number, sigma: number, d: number): number[] {
  const n = 20001;
  const lo = mu - 10 * sigma;
  const h = (20 * sigma) / (n - 1);
  const a = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
  const b = new Array<number>(d + 1).fill(0);
  for (let i = 0; i < n; i++) {
    const x = lo + i * h;
    const w = Math.exp(-0.5 * ((x - mu) / sigma) ** 2);
    for (let p = 0; p <= d; p++) {
      b[p]! += w * x ** p * Math.max(0, x);
      for (let q = 0; q <= d; q++) a[p]![q]! += w * x ** (p + q);
    }
  }
  for (let c = 0; c <= d; c++) {
    for (let r = c + 1; r <= d; r++) {
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k <= d; k++) a[r]![k]! -= f * a[c]![k]!;
      b[r]! -= f * b[c]!;
    }
  }
  const x = new Array<number>(d + 1).fill(0);
  for (let r = d; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k <= d; k++) s -= a[r]![k]! * x[k]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

describe('DaPa initialisation', () => {
  it('N(0,1), degree 2: c0 = c2 = φ(0)/2 = 0.199471, c1 = 1/2 (closed form)', () => {
    const [c0, c1, c2] = dapaCoefficients(0, 1, 2);
    expect(c0).toBeCloseTo(1 / Math.sqrt(2 * Math.PI) / 2, 12);
    expect(c1).toBeCloseTo(0.5, 12);
    expect(c2).toBeCloseTo(1 / Math.sqrt(2 * Math.PI) / 2, 12);
  });

  for (const [mu, sigma] of [[0.5, 2], [-1, 0.7], [2, 0.5], [0.1, 0.05]] as const) {
    for (const d of [1, 2, 3, 4]) {
      it(`μ=${mu}, σ=${sigma}, degree ${d} equals the numerical least-squares fit`, () => {
        const got = dapaCoefficients(mu, sigma, d);
        const ref = numericalFit(mu, sigma, d);
        got.forEach((g, k) => expect(Math.abs(g - ref[k]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref[k]!))));
      });
    }
  }

  it('normal cdf matches tabulated values', () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 12);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 12);
  });

  it('initialises a channel-wise polynomial from the site statistics (σ = √max(var, floor)) with damping, c2 stored uncompensated', () => {
    const p = new ChannelPoly(3, { degree: 2 });
    p.initDapa([0, 0.5, 0], [1, 4, 0.01], [0.2, 1, 0.1]);
    const c = p.coeffs.arraySync() as number[][];
    const ref = dapaCoefficients(0.5, 2, 2);
    expect(c[0]![1]).toBeCloseTo(ref[0]! * 0.2, 6);
    expect(c[1]![1]).toBeCloseTo(ref[1]!, 6);
    expect(c[2]![1]).toBeCloseTo(ref[2]! * 0.1, 6);
    // var 0.01 is floored at 0.5 (AutoReP's var_min): the fit uses σ = √0.5, not 0.1.
    expect(c[2]![2]).toBeCloseTo(dapaCoefficients(0, Math.sqrt(0.5), 2)[2]! * 0.1, 6);
    p.dispose();
  });

  it("the effective initial x² coefficient is AutoReP's scale_x2·c2/10: 0.1 · 0.199471 / 10 = 0.00199471 at N(0, 1)", () => {
    // AutoReP (models_util/model_spReLU_relay.py update_poly, auto_poly.py x2act_auto): para = DaPa fit,
    // para[0] /= 5, para[2] /= 10, x term divided by scale_x1 = 1, scale_x2 = 0.1 applied in the forward pass.
    const p = new ChannelPoly(1, { degree: 2 });
    expect(p.squareScale).toBe(0.1);
    p.initDapa([0], [1], [0.2, 1, 0.1]);
    const y = (x: number) => tf.tidy(() => p.forward(tf.tensor2d([[x]])).dataSync()[0]!);
    // c0 + c1·x + s·c2·x² read back from the forward pass: the x² coefficient is (y(1) + y(−1))/2 − y(0).
    const x2 = (y(1) + y(-1)) / 2 - y(0);
    expect(x2).toBeCloseTo(0.1 * (1 / Math.sqrt(2 * Math.PI) / 2) / 10, 7);
    expect(y(0)).toBeCloseTo((1 / Math.sqrt(2 * Math.PI) / 2) / 5, 6);
    expect((y(1) - y(-1)) / 2).toBeCloseTo(0.5, 6);
    p.dispose();
  });

  it('degrees 3 and 4 are fitted undamped (AutoReP damps only its degree-2 relay)', () => {
    const p = new ChannelPoly(1, { degree: 3 });
    p.initDapa([0.3], [2], [0.2, 1, 0.1]);
    const c = (p.coeffs.arraySync() as number[][]).map((r) => r[0]!);
    dapaCoefficients(0.3, Math.sqrt(2), 3).forEach((v, k) => expect(c[k]).toBeCloseTo(v, 6));
    p.dispose();
  });
});

describe('polynomial operators', () => {
  it('X2act starts as identity plus 0.005·x² and applies the scale rule', () => {
    const a = new X2act(3, [2, 2, 3]);
    const y = tf.tidy(() => a.forward(tf.tensor1d([2, -1, 0])).dataSync());
    expect(Array.from(y)).toEqual([expect.closeTo(2 + 0.02, 6), expect.closeTo(-1 + 0.005, 6), 0]);
    const b = new X2act(3, [2, 2, 3], { scale: { rule: 'feature-size', c: 6 } });
    expect(b.s).toBeCloseTo(6 / Math.sqrt(12), 12);
    expect(new X2act(4, [1, 1, 4], { granularity: 'channel' }).w1.shape).toEqual([4]);
  });

  it('ChannelPoly evaluates Σ c_k x^k per channel with the x² scale, clipping only the x² and higher coefficients', () => {
    const p = new ChannelPoly(2, { degree: 3, squareScale: 0.5, clip: 2 });
    tf.tidy(() => p.coeffs.assign(tf.tensor2d([[1, 0], [3, 1], [3, 0], [1, 5]])));
    // channel 0: 1 + 3x + 0.5·(2x² + 1x³) with c2 clipped to 2 and c1 = 3 untouched; channel 1: x + 0.5·(2·x³) with c3 clipped to 2
    const y = tf.tidy(() => p.forward(tf.tensor2d([[2, 2]])).dataSync());
    expect(y[0]).toBeCloseTo(1 + 6 + 0.5 * (2 * 4 + 8), 5);
    expect(y[1]).toBeCloseTo(2 + 0.5 * (2 * 8), 5);
  });

  it('ChannelPoly: a clipped coefficient gets no gradient (the clip sits on the path to the loss)', () => {
    const p = new ChannelPoly(2, { degree: 3, squareScale: 0.5, clip: 0.5 });
    tf.tidy(() => p.coeffs.assign(tf.tensor2d([[0.1, 0.2], [0.9, 1], [0.4, 0.7], [-0.3, 0.2]])));
    const x = tf.tensor2d([[0.5, -1], [2, 0.3]]);
    const g = tf.tidy(() => Object.values(tf.variableGrads(() => tf.sum(p.forward(x)) as tf.Scalar, [p.coeffs]).grads)[0]!.arraySync() as number[][]);
    // d/dc_k = Σ s·x^k over the channel's inputs (k ≥ 2): channel 0 (x = 0.5, 2) keeps every gradient,
    // channel 1's c2 = 0.7 lies beyond the clip 0.5, so its gradient is 0; its c3 = 0.2 is inside.
    expect(g[2]![0]).toBeCloseTo(0.5 * (0.25 + 4), 5);
    expect(g[2]![1]).toBe(0);
    expect(g[3]![1]).toBeCloseTo(0.5 * (-1 + 0.027), 5);
    expect(g[1]![1]).toBeCloseTo(-1 + 0.3, 5);
    x.dispose();
    p.dispose();
  });

  for (const [name, make] of [
    ['X2act (channel)', () => new X2act(3, [4, 4, 3], { granularity: 'channel', scale: { rule: 'constant', value: 0.5 } })],
    ['ChannelPoly degree 4', () => new ChannelPoly(3, { degree: 4, squareScale: 0.3 })],
  ] as const) {
    it(`${name}: gradients agree with finite differences`, () => {
      const m = make();
      tf.tidy(() => {
        for (const v of m.weightVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 5));
        const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 6);
        const r = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 7);
        const loss = (xi: tf.Tensor) => tf.sum(tf.mul(m.forward(xi), r)) as tf.Scalar;
        const vx = tf.randomNormal(x.shape, 0, 1, 'float32', 8);
        const vars = m.weightVariables();
        const vw = vars.map((v, i) => tf.randomNormal(v.shape, 0, 1, 'float32', 20 + i));
        let ad = tf.sum(tf.mul(tf.grad(loss)(x), vx)).dataSync()[0]!;
        const { grads } = tf.variableGrads(() => loss(x), vars);
        vars.forEach((v, i) => (ad += tf.sum(tf.mul(grads[v.name]!, vw[i]!)).dataSync()[0]!));
        const orig = vars.map((v) => tf.clone(v));
        const eps = 1e-3;
        const at = (s: number) => {
          vars.forEach((v, i) => v.assign(tf.add(orig[i]!, tf.mul(vw[i]!, s * eps))));
          return loss(tf.add(x, tf.mul(vx, s * eps))).dataSync()[0]!;
        };
        const fd = (at(1) - at(-1)) / (2 * eps);
        expect(Math.abs(fd - ad) / Math.abs(ad)).toBeLessThan(1e-2);
      });
      m.dispose();
    });
  }
});
