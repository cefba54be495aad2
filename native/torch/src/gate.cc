// polynas torch engine: one pass over the activations for a mask gate over a channel-wise
// polynomial, forward and backward, where tfjs composes about a dozen element-wise kernels (each a
// pass over the activations) and the broadcast reductions of their gradients.
//
// Reductions (the mask's and the coefficients' gradients) are summed in a fixed number of row
// chunks, then the chunks in order, so results do not depend on the thread count.

#include "gate.h"
#include "rows.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace polynas {
namespace {

struct Layout {
  int64_t n = 0;     // elements of x
  int64_t C = 0;     // channels (last axis)
  int64_t rows = 0;  // n / C
  int64_t M = 0;     // mask elements (0: no mask)
  int degree = 0;
};

Layout layout(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& coeffs) {
  if (x.scalar_type() != at::kFloat || coeffs.scalar_type() != at::kFloat || (mask.defined() && mask.scalar_type() != at::kFloat)) {
    throw std::runtime_error("polynas torch: maskedPoly takes float32 tensors");
  }
  Layout l;
  if (x.dim() < 1) throw std::runtime_error("polynas torch: maskedPoly: x must have a channel axis, got a scalar");
  l.C = x.size(-1);
  l.n = x.numel();
  l.rows = l.C > 0 ? l.n / l.C : 0;
  if (coeffs.dim() != 2 || coeffs.size(1) != l.C || coeffs.size(0) < 2 || coeffs.size(0) > 5) {
    throw std::runtime_error("polynas torch: maskedPoly: coefficients " + shapeText(coeffs) + " for x " + shapeText(x) + " (want [degree + 1, " + std::to_string(l.C) + "], degree 1-4)");
  }
  l.degree = static_cast<int>(coeffs.size(0)) - 1;
  l.M = mask.defined() ? mask.numel() : 0;
  if (mask.defined() && !(l.M == 1 || (l.M % l.C == 0 && l.n % l.M == 0))) {
    throw std::runtime_error("polynas torch: maskedPoly: a mask " + shapeText(mask) + " does not broadcast over x " + shapeText(x));
  }
  return l;
}

// The coefficients as used by the forward pass (rows k >= 2 clipped), and whether each one's
// gradient passes the clip (tfjs' clipByValue: inside [-clip, clip], bounds included).
std::vector<float> effective(const at::Tensor& coeffs, PolyAttrs a, std::vector<float>* pass) {
  at::Tensor c = coeffs.contiguous();
  const float* p = c.data_ptr<float>();
  std::vector<float> out(p, p + c.numel());
  if (pass) pass->assign(out.size(), 1.f);
  if (a.clip < 0) return out;
  const int64_t C = c.size(1);
  const float lo = static_cast<float>(-a.clip), hi = static_cast<float>(a.clip);
  for (int64_t i = 2 * C; i < c.numel(); i++) {
    if (pass) (*pass)[i] = out[i] >= lo && out[i] <= hi ? 1.f : 0.f;
    out[i] = std::min(std::max(out[i], lo), hi);
  }
  return out;
}

// Where row r's mask values start (a per-sample mask repeats every M elements).
inline int64_t maskOffset(const Layout& l, int64_t r) { return l.M > 1 ? (r * l.C) % l.M : 0; }

// The row loops, specialised on the degree D and the mask's stride MS over a row (-1: no mask,
// 0: one decision, 1: one per channel or element), so the channel loop has no branches and
// vectorises. The polynomial is evaluated in tfjs' order: lin + s·(inner·x²), inner by Horner.
template <int D, int MS>
struct Rows {
  const float* __restrict c;  // [D + 1][C] effective coefficients
  int64_t C;
  float s;

  void forward(const float* __restrict xr, const float* __restrict mr, float* __restrict yr) const {
    const float* __restrict c = this->c;  // locals: stores through yr cannot alias them
    const int64_t C = this->C;
    const float s = this->s;
    for (int64_t ch = 0; ch < C; ch++) {
      const float xv = xr[ch];
      float pv = c[ch] + c[C + ch] * xv;
      if constexpr (D >= 2) {
        float inner = c[D * C + ch];
#pragma GCC unroll 4
        for (int k = D - 1; k >= 2; k--) inner = inner * xv + c[k * C + ch];
        pv = pv + (inner * (xv * xv)) * s;
      }
      if constexpr (MS < 0) {
        yr[ch] = pv;
      } else {
        const float mv = MS == 1 ? mr[ch] : mr[0];
        const float rv = std::max(xv, 0.f);
        yr[ch] = pv + mv * (rv - pv);
      }
    }
  }

  // dx for the row; adds the mask's gradient to dmr (per channel even for one decision) and
  // Σ ga·x^k to acc[k][ch].
  void backward(const float* __restrict xr, const float* __restrict gr, const float* __restrict mr, float* __restrict dxr, float* __restrict dmr, float* __restrict acc) const {
    const float* __restrict c = this->c;
    const int64_t C = this->C;
    const float s = this->s;
    for (int64_t ch = 0; ch < C; ch++) {
      const float xv = xr[ch], g = gr[ch];
      const float lin = c[ch] + c[C + ch] * xv;
      float pv = lin, dp = c[C + ch];
      if constexpr (D >= 2) {
        // p'(x) = c1 + s·(inner'·x² + inner·2x), as tfjs differentiates the composition.
        float inner = c[D * C + ch], dinner = 0.f;
#pragma GCC unroll 4
        for (int k = D - 1; k >= 2; k--) {
          dinner = dinner * xv + inner;
          inner = inner * xv + c[k * C + ch];
        }
        pv = lin + (inner * (xv * xv)) * s;
        dp = c[C + ch] + s * (dinner * (xv * xv) + inner * (xv * 2.f));
      }
      float ga = g;
      if constexpr (MS >= 0) {
        const float mv = MS == 1 ? mr[ch] : mr[0];
        const float gm = g * mv;
        ga = g - gm;
        dxr[ch] = ga * dp + (xv > 0.f ? gm : 0.f);
        dmr[ch] += g * (std::max(xv, 0.f) - pv);  // std::max(x, 0): x < 0 ? 0 : x, NaN stays, as tfjs' ReLU
      } else {
        dxr[ch] = g * dp;
      }
      float pw = ga;
      acc[ch] += pw;
#pragma GCC unroll 4
      for (int k = 1; k <= D; k++) {
        pw *= xv;
        acc[k * C + ch] += pw;
      }
    }
  }
};

// Calls f(Rows<D, MS>{...}) for the layout's degree and mask stride.
template <typename F>
void dispatch(const Layout& l, const float* c, float s, F&& f) {
  auto withMask = [&](auto degree) {
    constexpr int D = decltype(degree)::value;
    if (l.M == 0) f(Rows<D, -1>{c, l.C, s});
    else if (l.M == 1) f(Rows<D, 0>{c, l.C, s});
    else f(Rows<D, 1>{c, l.C, s});
  };
  switch (l.degree) {
    case 1: withMask(std::integral_constant<int, 1>{}); break;
    case 2: withMask(std::integral_constant<int, 2>{}); break;
    case 3: withMask(std::integral_constant<int, 3>{}); break;
    default: withMask(std::integral_constant<int, 4>{}); break;
  }
}

}  // namespace

at::Tensor maskedPoly(const at::Tensor& xin, const at::Tensor& maskIn, const at::Tensor& coeffs, PolyAttrs a) {
  at::Tensor x = xin.contiguous();
  at::Tensor mask = maskIn.defined() ? maskIn.contiguous() : maskIn;
  const Layout l = layout(x, mask, coeffs);
  const std::vector<float> c = effective(coeffs, a, nullptr);
  at::Tensor y = at::empty_like(x);
  const float* xp = x.data_ptr<float>();
  const float* mp = l.M ? mask.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  dispatch(l, c.data(), static_cast<float>(a.scale), [&](auto rows) {
    at::parallel_for(0, l.rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(l.C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++) rows.forward(xp + r * l.C, mp ? mp + maskOffset(l, r) : nullptr, yp + r * l.C);
    });
  });
  return y;
}

std::vector<at::Tensor> maskedPolyGrad(const at::Tensor& dyIn, const at::Tensor& xin, const at::Tensor& maskIn, const at::Tensor& coeffs, PolyAttrs a) {
  at::Tensor x = xin.contiguous(), dy = dyIn.contiguous();
  at::Tensor mask = maskIn.defined() ? maskIn.contiguous() : maskIn;
  const Layout l = layout(x, mask, coeffs);
  if (!dy.sizes().equals(x.sizes()) || dy.scalar_type() != at::kFloat) throw std::runtime_error("polynas torch: maskedPolyGrad: dy " + shapeText(dy) + " for x " + shapeText(x));
  std::vector<float> pass;
  const std::vector<float> c = effective(coeffs, a, &pass);
  const int64_t C = l.C, K = l.degree + 1;
  // Per chunk: the mask's gradient (a per-element mask: M values; otherwise one per channel, summed
  // at the end) and the coefficient sums.
  const int64_t dmSize = l.M > 1 ? std::max(l.M, C) : C;
  const int64_t chunks = std::max<int64_t>(1, std::min(kChunks, l.rows));
  std::vector<float> dmPart(static_cast<size_t>(chunks * dmSize), 0.f);
  std::vector<double> dcPart(static_cast<size_t>(chunks * K * C), 0.0);
  at::Tensor dx = at::empty_like(x);
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  const float* mp = l.M ? mask.data_ptr<float>() : nullptr;
  float* dxp = dx.data_ptr<float>();
  dispatch(l, c.data(), static_cast<float>(a.scale), [&](auto rows) {
    at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      std::vector<float> acc(static_cast<size_t>(K * C));
      for (int64_t k = b; k < e; k++) {
        float* dm = dmPart.data() + k * dmSize;
        double* dc = dcPart.data() + k * K * C;
        const int64_t r0 = chunkStart(l.rows, chunks, k), r1 = chunkStart(l.rows, chunks, k + 1);
        for (int64_t f = r0; f < r1; f += kFlushRows) {
          std::fill(acc.begin(), acc.end(), 0.f);
          for (int64_t r = f; r < std::min(r1, f + kFlushRows); r++) {
            const int64_t mo = maskOffset(l, r);
            rows.backward(xp + r * C, gp + r * C, mp ? mp + mo : nullptr, dxp + r * C, l.M > 1 ? dm + mo : dm, acc.data());
          }
          for (int64_t j = 0; j < K * C; j++) dc[j] += acc[j];
        }
      }
    });
  });
  at::Tensor dmask = l.M ? at::zeros_like(mask) : at::empty({0}, x.options());
  if (l.M) {
    float* dmp = dmask.data_ptr<float>();
    for (int64_t k = 0; k < chunks; k++) {
      const float* part = dmPart.data() + k * dmSize;
      if (l.M > 1) for (int64_t j = 0; j < l.M; j++) dmp[j] += part[j];
      else for (int64_t j = 0; j < C; j++) dmp[0] += part[j];
    }
  }
  at::Tensor dcoeffs = at::empty({K, C}, x.options());
  float* dcp = dcoeffs.data_ptr<float>();
  for (int64_t j = 0; j < K * C; j++) {
    double sum = 0;
    for (int64_t k = 0; k < chunks; k++) sum += dcPart[k * K * C + j];
    dcp[j] = static_cast<float>(j >= 2 * C ? sum * a.scale * pass[j] : sum);
  }
  return {dx, dmask, dcoeffs};
}

at::Tensor hysteresisMask(const at::Tensor& maskIn, const at::Tensor& alphaIn, double keepShift, double restoreShift) {
  at::Tensor mask = maskIn.contiguous(), alpha = alphaIn.contiguous();
  if (mask.scalar_type() != at::kFloat || alpha.scalar_type() != at::kFloat || !mask.sizes().equals(alpha.sizes())) {
    throw std::runtime_error("polynas torch: hysteresisMask: mask " + shapeText(mask) + " and alpha " + shapeText(alpha) + " (want float32, one shape)");
  }
  at::Tensor out = at::empty_like(mask);
  const float *mp = mask.data_ptr<float>(), *ap = alpha.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float ks = static_cast<float>(keepShift), rs = static_cast<float>(restoreShift);
  // tfjs' step: 1 where v > 0, 0 elsewhere, NaN stays NaN.
  auto step = [](float v) { return std::isnan(v) ? v : (v > 0.f ? 1.f : 0.f); };
  for (int64_t j = 0; j < mask.numel(); j++) {
    const float m = mp[j];
    op[j] = m * step(ap[j] + ks) + (1.f - m) * step(ap[j] - rs);
  }
  return out;
}

}  // namespace polynas
