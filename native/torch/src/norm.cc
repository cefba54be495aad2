// polynas torch engine: training-mode batch norm, a residual add and a ReLU in two passes over the
// activations forward (statistics; normalise, add, clamp) and two backward (sums; dx), where
// LibTorch's batch norm, add and ReLU take six forward and five backward, each a kernel of its own.
//
// Statistics are summed around a per-channel shift (the first row), so the variance keeps its
// precision when the mean is large against the spread; the ReLU's gradient is a select, so every
// channel loop vectorises.

#include "norm.h"
#include "rows.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace polynas {
namespace {

void check(const at::Tensor& t, const at::Tensor& x, const char* what) {
  if (t.scalar_type() != at::kFloat || !t.sizes().equals(x.sizes())) {
    throw std::runtime_error(std::string("polynas torch: batchNormRelu: ") + what + " " + shapeText(t) + " for x " + shapeText(x) + " (want float32, x's shape)");
  }
}

void checkChannels(const at::Tensor& t, int64_t C, const char* what) {
  if (t.scalar_type() != at::kFloat || t.numel() != C) {
    throw std::runtime_error(std::string("polynas torch: batchNormRelu: ") + what + " " + shapeText(t) + " for " + std::to_string(C) + " channels");
  }
}

// The loops below run over n elements of a tile (whole rows); per-channel values come tiled.

// Σ (x − shift) into acc[0, n) and Σ (x − shift)² into acc[len, len + n).
POLYNAS_CLONES void statsSpan(const float* __restrict x, const float* __restrict sh, float* __restrict acc, int64_t len, int64_t n) {
  float* __restrict sq = acc + len;
  for (int64_t j = 0; j < n; j++) {
    const float d = x[j] - sh[j];
    acc[j] += d;
    sq[j] += d * d;
  }
}

// y = max(x·a + b (+ residual), 0); residual may be null.
POLYNAS_CLONES void normSpan(const float* __restrict x, const float* __restrict res, const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n) {
  if (res) {
    for (int64_t j = 0; j < n; j++) y[j] = std::max(x[j] * a[j] + b[j] + res[j], 0.f);
  } else {
    for (int64_t j = 0; j < n; j++) y[j] = std::max(x[j] * a[j] + b[j], 0.f);
  }
}

// The backward passes take the ReLU's mask from the output y where there is a residual, and
// otherwise recompute it from x as the forward pass did (z = x·a + b, the same rounding: no
// floating-point contraction), which reads one tensor less.

// With g = dy where the ReLU passed: Σ g into acc[0, n) and Σ g·(x − mean) into acc[len, len + n).
POLYNAS_CLONES void gradSumSpan(const float* __restrict x, const float* __restrict dy, const float* __restrict y, const float* __restrict fa, const float* __restrict fb,
                                const float* __restrict mu, float* __restrict acc, int64_t len, int64_t n) {
  float* __restrict gx = acc + len;
  if (y) {
    for (int64_t j = 0; j < n; j++) {
      const float yv = y[j], gv = dy[j];
      const float g = yv > 0.f ? gv : 0.f;
      acc[j] += g;
      gx[j] += g * (x[j] - mu[j]);
    }
  } else {
    for (int64_t j = 0; j < n; j++) {
      const float xv = x[j], gv = dy[j];
      const float g = xv * fa[j] + fb[j] > 0.f ? gv : 0.f;
      acc[j] += g;
      gx[j] += g * (xv - mu[j]);
    }
  }
}

// dx = (g − m − (x − mean)·s)·a and, where dres is not null, dres = g; a and b are the forward's
// scale and shift (a = γ·invstd).
POLYNAS_CLONES void gradSpan(const float* __restrict x, const float* __restrict dy, const float* __restrict y, const float* __restrict a, const float* __restrict fb,
                             const float* __restrict mu, const float* __restrict s, const float* __restrict m, float* __restrict dx, float* __restrict dres, int64_t n) {
  if (y) {
    for (int64_t j = 0; j < n; j++) {
      const float yv = y[j], gv = dy[j];
      const float g = yv > 0.f ? gv : 0.f;
      dx[j] = (g - m[j] - (x[j] - mu[j]) * s[j]) * a[j];
      if (dres) dres[j] = g;
    }
  } else {
    for (int64_t j = 0; j < n; j++) {
      const float xv = x[j], gv = dy[j];
      const float g = xv * a[j] + fb[j] > 0.f ? gv : 0.f;
      dx[j] = (g - m[j] - (xv - mu[j]) * s[j]) * a[j];
    }
  }
}

// The forward pass's per-channel scale and shift: y = max(x·a + b (+ residual), 0).
void affine(const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t C, std::vector<float>& a, std::vector<float>& b) {
  a.resize(C);
  b.resize(C);
  for (int64_t c = 0; c < C; c++) {
    a[c] = invstd[c] * gamma[c];
    b[c] = beta[c] - mean[c] * a[c];
  }
}

}  // namespace

std::vector<at::Tensor> batchNormRelu(const at::Tensor& xin, const at::Tensor& gammaIn, const at::Tensor& betaIn, const at::Tensor& residualIn,
                                      const at::Tensor& runningMean, const at::Tensor& runningVar, double eps, double momentum) {
  at::Tensor x = xin.contiguous();
  if (x.scalar_type() != at::kFloat || x.dim() < 2) throw std::runtime_error("polynas torch: batchNormRelu: x " + shapeText(x) + " (want float32 with a channel axis)");
  const int64_t C = x.size(-1), rows = x.numel() / std::max<int64_t>(C, 1);
  at::Tensor gamma = gammaIn.contiguous(), beta = betaIn.contiguous();
  checkChannels(gamma, C, "gamma");
  checkChannels(beta, C, "beta");
  at::Tensor residual = residualIn.defined() ? residualIn.contiguous() : residualIn;
  if (residual.defined()) check(residual, x, "residual");
  if (rows == 0) throw std::runtime_error("polynas torch: batchNormRelu: x " + shapeText(x) + " has no values to normalise");
  if (runningMean.defined()) {
    checkChannels(runningMean, C, "running mean");
    checkChannels(runningVar, C, "running variance");
  }

  const float* xp = x.data_ptr<float>();
  const Tiles tiles(C, rows);
  const std::vector<float> shift = tiled(xp, tiles);
  // Σ (x − shift) and Σ (x − shift)² per channel.
  const std::vector<double> sums = sumTiles(tiles, 2, [&](int64_t i, int64_t n, float* acc) { statsSpan(xp + i, shift.data(), acc, tiles.len, n); });
  at::Tensor mean = at::empty({C}, x.options()), invstd = at::empty({C}, x.options());
  float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
  std::vector<double> variance(C);
  for (int64_t c = 0; c < C; c++) {
    const double m = sums[c] / rows;
    variance[c] = std::max(0.0, sums[C + c] / rows - m * m);
    mp[c] = static_cast<float>(xp[c] + m);
    ip[c] = static_cast<float>(1.0 / std::sqrt(variance[c] + eps));
  }
  std::vector<float> a, b;
  affine(gamma.data_ptr<float>(), beta.data_ptr<float>(), mp, ip, C, a, b);

  at::Tensor y = at::empty_like(x);
  float* yp = y.data_ptr<float>();
  const float* rp = residual.defined() ? residual.data_ptr<float>() : nullptr;
  const std::vector<float> ta = tiled(a.data(), tiles), bt = tiled(b.data(), tiles);
  forTiles(tiles, [&](int64_t i, int64_t n) { normSpan(xp + i, rp ? rp + i : nullptr, ta.data(), bt.data(), yp + i, n); });
  if (!runningMean.defined()) return {y, mean, invstd};
  at::Tensor rm = runningMean.contiguous().clone(), rv = runningVar.contiguous().clone();
  float *rmp = rm.data_ptr<float>(), *rvp = rv.data_ptr<float>();
  const double unbiased = rows > 1 ? static_cast<double>(rows) / (rows - 1) : 0.0;
  for (int64_t c = 0; c < C; c++) {
    rmp[c] = static_cast<float>((1 - momentum) * rmp[c] + momentum * mp[c]);
    rvp[c] = static_cast<float>((1 - momentum) * rvp[c] + momentum * variance[c] * unbiased);
  }
  return {y, mean, invstd, rm, rv};
}

std::vector<at::Tensor> batchNormReluGrad(const at::Tensor& dyIn, const at::Tensor& xin, const at::Tensor& yin, const at::Tensor& gammaIn, const at::Tensor& betaIn,
                                          const at::Tensor& meanIn, const at::Tensor& invstdIn) {
  at::Tensor x = xin.contiguous();
  if (x.scalar_type() != at::kFloat || x.dim() < 2) throw std::runtime_error("polynas torch: batchNormReluGrad: x " + shapeText(x) + " (want float32 with a channel axis)");
  const bool residual = yin.defined();
  at::Tensor dy = dyIn.contiguous(), y = residual ? yin.contiguous() : yin;
  check(dy, x, "dy");
  if (residual) check(y, x, "y");
  const int64_t C = x.size(-1), rows = x.numel() / std::max<int64_t>(C, 1);
  if (rows == 0) throw std::runtime_error("polynas torch: batchNormReluGrad: x " + shapeText(x) + " has no values");
  at::Tensor gamma = gammaIn.contiguous(), beta = betaIn.contiguous(), mean = meanIn.contiguous(), invstd = invstdIn.contiguous();
  checkChannels(gamma, C, "gamma");
  checkChannels(beta, C, "beta");
  checkChannels(mean, C, "mean");
  checkChannels(invstd, C, "invstd");
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>(), *yp = residual ? y.data_ptr<float>() : nullptr;
  const float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
  const Tiles tiles(C, rows);
  std::vector<float> a, b;
  affine(gamma.data_ptr<float>(), beta.data_ptr<float>(), mp, ip, C, a, b);
  const std::vector<float> mt = tiled(mp, tiles), fa = tiled(a.data(), tiles), fb = tiled(b.data(), tiles);
  // Σ g and Σ g·(x − mean) per channel, g = dy where the ReLU passed.
  const std::vector<double> sums = sumTiles(tiles, 2, [&](int64_t i, int64_t n, float* acc) {
    gradSumSpan(xp + i, gp + i, yp ? yp + i : nullptr, fa.data(), fb.data(), mt.data(), acc, tiles.len, n);
  });
  at::Tensor dgamma = at::empty({C}, x.options()), dbeta = at::empty({C}, x.options());
  std::vector<float> k2(C), mg(C);
  for (int64_t c = 0; c < C; c++) {
    dbeta.data_ptr<float>()[c] = static_cast<float>(sums[c]);
    dgamma.data_ptr<float>()[c] = static_cast<float>(sums[C + c] * ip[c]);
    mg[c] = static_cast<float>(sums[c] / rows);
    k2[c] = static_cast<float>(sums[C + c] / rows * ip[c] * ip[c]);
  }
  at::Tensor dx = at::empty_like(x);
  at::Tensor dr = residual ? at::empty_like(x) : at::Tensor();
  float* dxp = dx.data_ptr<float>();
  float* drp = residual ? dr.data_ptr<float>() : nullptr;
  // dx = (g − mean(g) − (x − mean)·invstd²·mean(g·(x − mean)))·γ·invstd, γ·invstd being the forward's a.
  const std::vector<float> st = tiled(k2.data(), tiles), gt = tiled(mg.data(), tiles);
  forTiles(tiles, [&](int64_t i, int64_t n) {
    gradSpan(xp + i, gp + i, yp ? yp + i : nullptr, fa.data(), fb.data(), mt.data(), st.data(), gt.data(), dxp + i, drp ? drp + i : nullptr, n);
  });
  if (residual) return {dx, dgamma, dbeta, dr};
  return {dx, dgamma, dbeta};
}

}  // namespace polynas
