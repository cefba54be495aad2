/** Standard normal pdf. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal cdf, to double precision. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** erfc via the Maclaurin series of erf for |x| < 2 and a continued fraction (Lentz) beyond. */
function erfc(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2) {
    // Maclaurin series of erf.
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // Continued fraction (Lentz) for erfc.
    const tiny = 1e-300;
    let f = ax;
    let c = ax;
    let d = 0;
    for (let n = 1; n < 200; n++) {
      const an = n / 2;
      d = ax + an * d;
      d = d === 0 ? tiny : d;
      c = ax + an / c;
      c = c === 0 ? tiny : c;
      d = 1 / d;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  }
  return x >= 0 ? r : 2 - r;
}

/** E[x^k] for x ~ N(μ, σ²), k = 0..n. */
export function gaussianMoments(mu: number, sigma: number, n: number): number[] {
  const std = (j: number) => (j % 2 === 1 ? 0 : doubleFactorial(j - 1));
  return Array.from({ length: n + 1 }, (_, k) => {
    let s = 0;
    for (let j = 0; j <= k; j++) s += binom(k, j) * mu ** (k - j) * sigma ** j * std(j);
    return s;
  });
}

/** E[x^k · 1{x > 0}] for x ~ N(μ, σ²), k = 0..n (partial moments over the positive half-line). */
export function positivePartialMoments(mu: number, sigma: number, n: number): number[] {
  const z = mu / sigma;
  const a = -z;
  // m_j = E[t^j 1{t > a}] for t ~ N(0,1): m_0 = Φ(z), m_1 = φ(a), m_j = (j−1)·m_{j−2} + a^{j−1}·φ(a).
  const m: number[] = [normalCdf(z), normalPdf(a)];
  for (let j = 2; j <= n; j++) m.push((j - 1) * m[j - 2]! + a ** (j - 1) * normalPdf(a));
  return Array.from({ length: n + 1 }, (_, k) => {
    let s = 0;
    for (let j = 0; j <= k; j++) s += binom(k, j) * mu ** (k - j) * sigma ** j * m[j]!;
    return s;
  });
}

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

function doubleFactorial(n: number): number {
  let r = 1;
  for (let i = n; i > 1; i -= 2) r *= i;
  return r;
}
