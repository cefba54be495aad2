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

// Rows at a time for the element-wise passes.
int64_t grain(int64_t C) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(C, 1)); }

// Σ (x − shift) into acc[0, C) and Σ (x − shift)² into acc[C, 2C), rows [r0, r1).
POLYNAS_CLONES void statsRows(const float* __restrict x, const float* __restrict sh, float* __restrict acc, int64_t C, int64_t r0, int64_t r1) {
  float* __restrict sq = acc + C;
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict xr = x + r * C;
    for (int64_t c = 0; c < C; c++) {
      const float d = xr[c] - sh[c];
      acc[c] += d;
      sq[c] += d * d;
    }
  }
}

// y = max(x·a + b (+ residual), 0), rows [r0, r1); residual may be null.
POLYNAS_CLONES void normRows(const float* __restrict x, const float* __restrict res, const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    if (res) {
      const float* __restrict rr = res + r * C;
      for (int64_t c = 0; c < C; c++) yr[c] = std::max(xr[c] * a[c] + b[c] + rr[c], 0.f);
    } else {
      for (int64_t c = 0; c < C; c++) yr[c] = std::max(xr[c] * a[c] + b[c], 0.f);
    }
  }
}

// With g = dy where y > 0: Σ g into acc[0, C) and Σ g·(x − mean) into acc[C, 2C), rows [r0, r1).
POLYNAS_CLONES void gradSumRows(const float* __restrict x, const float* __restrict dy, const float* __restrict y, const float* __restrict mu, float* __restrict acc, int64_t C, int64_t r0, int64_t r1) {
  float* __restrict gx = acc + C;
  for (int64_t r = r0; r < r1; r++) {
    const float *__restrict xr = x + r * C, *__restrict gr = dy + r * C, *__restrict yr = y + r * C;
    for (int64_t c = 0; c < C; c++) {
      const float yv = yr[c], gv = gr[c];
      const float g = yv > 0.f ? gv : 0.f;
      acc[c] += g;
      gx[c] += g * (xr[c] - mu[c]);
    }
  }
}

// dx = (g − m − (x − mean)·s)·a and, where dres is not null, dres = g; rows [r0, r1).
POLYNAS_CLONES void gradRows(const float* __restrict x, const float* __restrict dy, const float* __restrict y, const float* __restrict mu, const float* __restrict a,
                             const float* __restrict s, const float* __restrict m, float* __restrict dx, float* __restrict dres, int64_t C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; r++) {
    const float *__restrict xr = x + r * C, *__restrict gr = dy + r * C, *__restrict yr = y + r * C;
    float* __restrict dxr = dx + r * C;
    for (int64_t c = 0; c < C; c++) {
      const float yv = yr[c], gv = gr[c];
      const float g = yv > 0.f ? gv : 0.f;
      dxr[c] = (g - m[c] - (xr[c] - mu[c]) * s[c]) * a[c];
    }
    if (dres) {
      float* __restrict dr = dres + r * C;
      for (int64_t c = 0; c < C; c++) {
        const float yv = yr[c], gv = gr[c];
        dr[c] = yv > 0.f ? gv : 0.f;
      }
    }
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

  const float* xp = x.data_ptr<float>();
  const std::vector<float> shift(xp, xp + C);
  // Σ (x − shift) and Σ (x − shift)² per channel.
  const std::vector<double> sums = sumRows(rows, 2 * C, [&](int64_t r0, int64_t r1, float* acc) { statsRows(xp, shift.data(), acc, C, r0, r1); });
  at::Tensor mean = at::empty({C}, x.options()), invstd = at::empty({C}, x.options());
  std::vector<double> variance(C);
  std::vector<float> a(C), b(C);
  const float *gp = gamma.data_ptr<float>(), *bp = beta.data_ptr<float>();
  for (int64_t c = 0; c < C; c++) {
    const double m = sums[c] / rows;
    variance[c] = std::max(0.0, sums[C + c] / rows - m * m);
    const float mu = static_cast<float>(shift[c] + m);
    const float is = static_cast<float>(1.0 / std::sqrt(variance[c] + eps));
    mean.data_ptr<float>()[c] = mu;
    invstd.data_ptr<float>()[c] = is;
    a[c] = is * gp[c];
    b[c] = bp[c] - mu * a[c];
  }

  at::Tensor y = at::empty_like(x);
  float* yp = y.data_ptr<float>();
  const float* rp = residual.defined() ? residual.data_ptr<float>() : nullptr;
  at::parallel_for(0, rows, grain(C), [&](int64_t r0, int64_t r1) { normRows(xp, rp, a.data(), b.data(), yp, C, r0, r1); });
  if (!runningMean.defined()) return {y, mean, invstd};
  checkChannels(runningMean, C, "running mean");
  checkChannels(runningVar, C, "running variance");
  at::Tensor rm = runningMean.contiguous().clone(), rv = runningVar.contiguous().clone();
  float *rmp = rm.data_ptr<float>(), *rvp = rv.data_ptr<float>();
  const double unbiased = rows > 1 ? static_cast<double>(rows) / (rows - 1) : 0.0;
  for (int64_t c = 0; c < C; c++) {
    rmp[c] = static_cast<float>((1 - momentum) * rmp[c] + momentum * mean.data_ptr<float>()[c]);
    rvp[c] = static_cast<float>((1 - momentum) * rvp[c] + momentum * variance[c] * unbiased);
  }
  return {y, mean, invstd, rm, rv};
}

std::vector<at::Tensor> batchNormReluGrad(const at::Tensor& dyIn, const at::Tensor& xin, const at::Tensor& yin, const at::Tensor& gammaIn,
                                          const at::Tensor& meanIn, const at::Tensor& invstdIn, bool residual) {
  at::Tensor x = xin.contiguous();
  if (x.scalar_type() != at::kFloat || x.dim() < 2) throw std::runtime_error("polynas torch: batchNormReluGrad: x " + shapeText(x) + " (want float32 with a channel axis)");
  at::Tensor dy = dyIn.contiguous(), y = yin.contiguous();
  check(dy, x, "dy");
  check(y, x, "y");
  const int64_t C = x.size(-1), rows = x.numel() / std::max<int64_t>(C, 1);
  at::Tensor gamma = gammaIn.contiguous(), mean = meanIn.contiguous(), invstd = invstdIn.contiguous();
  checkChannels(gamma, C, "gamma");
  checkChannels(mean, C, "mean");
  checkChannels(invstd, C, "invstd");
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>(), *yp = y.data_ptr<float>();
  const float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>(), *wp = gamma.data_ptr<float>();
  // Σ g and Σ g·(x − mean) per channel, g = dy where y > 0.
  const std::vector<double> sums = sumRows(rows, 2 * C, [&](int64_t r0, int64_t r1, float* acc) { gradSumRows(xp, gp, yp, mp, acc, C, r0, r1); });
  at::Tensor dgamma = at::empty({C}, x.options()), dbeta = at::empty({C}, x.options());
  std::vector<float> k1(C), k2(C), mg(C);
  for (int64_t c = 0; c < C; c++) {
    dbeta.data_ptr<float>()[c] = static_cast<float>(sums[c]);
    dgamma.data_ptr<float>()[c] = static_cast<float>(sums[C + c] * ip[c]);
    mg[c] = static_cast<float>(sums[c] / rows);
    k2[c] = static_cast<float>(sums[C + c] / rows * ip[c] * ip[c]);
    k1[c] = ip[c] * wp[c];
  }
  at::Tensor dx = at::empty_like(x);
  at::Tensor dr = residual ? at::empty_like(x) : at::Tensor();
  float* dxp = dx.data_ptr<float>();
  float* drp = residual ? dr.data_ptr<float>() : nullptr;
  at::parallel_for(0, rows, grain(C), [&](int64_t r0, int64_t r1) { gradRows(xp, gp, yp, mp, k1.data(), k2.data(), mg.data(), dxp, drp, C, r0, r1); });
  if (residual) return {dx, dgamma, dbeta, dr};
  return {dx, dgamma, dbeta};
}

}  // namespace polynas
