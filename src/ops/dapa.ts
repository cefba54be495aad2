import { lusolve } from 'mathjs';
import { gaussianMoments, normalCdf, normalPdf, positivePartialMoments } from './gaussian.js';

/**
 * DaPa (distribution-aware polynomial approximation, AutoReP): coefficients `[c0, c1, …, cd]` of the
 * polynomial that minimises E[(ReLU(x) − Σ c_k x^k)²] for x ~ N(μ, σ²). Degree 2 has the closed form
 * c2 = φ(z)/(2σ), c1 = Φ(z) − z·φ(z), c0 = φ(z)·(μ²/σ + σ)/2 with z = μ/σ; every degree 1–4 solves
 * the normal equations Σ_j E[x^{i+j}]·c_j = E[x^i·ReLU(x)] built from Gaussian moments.
 *
 * σ is the standard deviation (the reference code passes the variance where σ belongs).
 *
 * @example
 * ```ts runnable
 * dapaCoefficients(0, 1, 2); // [0.19947, 0.5, 0.19947]
 * ```
 */
export function dapaCoefficients(mu: number, sigma: number, degree: number): number[] {
  if (!Number.isInteger(degree) || degree < 1 || degree > 4) throw new Error(`DaPa: degree must be 1, 2, 3 or 4, got ${degree}`);
  if (!(sigma > 0)) throw new Error(`DaPa: sigma must be positive, got ${sigma}`);
  if (degree === 2) {
    const z = mu / sigma;
    const pdf = normalPdf(z);
    return [(pdf * ((mu * mu) / sigma + sigma)) / 2, normalCdf(z) - z * pdf, pdf / (2 * sigma)];
  }
  const mom = gaussianMoments(mu, sigma, 2 * degree);
  const rhs = positivePartialMoments(mu, sigma, degree + 1).slice(1); // E[x^i·x·1{x>0}]
  const a = Array.from({ length: degree + 1 }, (_, i) => Array.from({ length: degree + 1 }, (_, j) => mom[i + j]!));
  const sol = lusolve(a, rhs.map((v) => [v])) as number[][];
  return sol.map((r) => r[0]!);
}
