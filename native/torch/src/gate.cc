// polynas torch engine: one pass over the activations for a mask gate over a channel-wise
// polynomial, forward and backward, where tfjs composes about a dozen element-wise kernels (each a
// pass over the activations) and the broadcast reductions of their gradients.
//
// Reductions (the mask's and the coefficients' gradients) are summed in a fixed number of row
// chunks, then the chunks in order, so results do not depend on the thread count.

#include "gate.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace polynas {
namespace {

constexpr int64_t kChunks = 16;

struct Layout {
  int64_t n = 0;     // elements of x
  int64_t C = 0;     // channels (last axis)
  int64_t rows = 0;  // n / C
  int64_t M = 0;     // mask elements (0: no mask)
  int degree = 0;
};

std::string shapeText(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); i++) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

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

// p(x) and the Horner bracket c2 + c3·x + …, evaluated in tfjs' order (lin + s·(inner·x²)).
struct PolyValue {
  float value, inner, dinner;
};

inline PolyValue evaluate(const float* c, int64_t C, int d, float s, float x) {
  const float lin = c[0] + c[C] * x;
  if (d == 1) return {lin, 0.f, 0.f};
  float inner = c[d * C], dinner = 0.f;
  for (int k = d - 1; k >= 2; k--) {
    dinner = dinner * x + inner;
    inner = inner * x + c[k * C];
  }
  const float high = inner * (x * x);
  return {lin + (s == 1.f ? high : high * s), inner, dinner};
}

// Where row r's mask values start, and their stride (0 for a single decision).
inline int64_t maskOffset(const Layout& l, int64_t r) { return l.M > 1 ? (r * l.C) % l.M : 0; }

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
  const float s = static_cast<float>(a.scale);
  const int64_t C = l.C, ms = l.M > 1 ? 1 : 0;
  at::parallel_for(0, l.rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = xp + r * C;
      float* yr = yp + r * C;
      const float* mr = mp ? mp + maskOffset(l, r) : nullptr;
      for (int64_t ch = 0; ch < C; ch++) {
        const float xv = xr[ch];
        const float pv = evaluate(c.data() + ch, C, l.degree, s, xv).value;
        if (!mr) {
          yr[ch] = pv;
          continue;
        }
        const float rv = xv < 0.f ? 0.f : xv;
        yr[ch] = pv + mr[ch * ms] * (rv - pv);
      }
    }
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
  const int d = l.degree;
  const int64_t C = l.C, K = d + 1, ms = l.M > 1 ? 1 : 0;
  const int64_t chunks = std::max<int64_t>(1, std::min(kChunks, l.rows));
  std::vector<float> dmPart(static_cast<size_t>(chunks * l.M), 0.f);
  std::vector<double> dcPart(static_cast<size_t>(chunks * K * C), 0.0);
  at::Tensor dx = at::empty_like(x);
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  const float* mp = l.M ? mask.data_ptr<float>() : nullptr;
  float* dxp = dx.data_ptr<float>();
  const float s = static_cast<float>(a.scale);
  at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      float* dm = l.M ? dmPart.data() + k * l.M : nullptr;
      double* dc = dcPart.data() + k * K * C;
      for (int64_t r = l.rows * k / chunks; r < l.rows * (k + 1) / chunks; r++) {
        const int64_t mo = maskOffset(l, r);
        for (int64_t ch = 0; ch < C; ch++) {
          const int64_t i = r * C + ch;
          const float xv = xp[i], g = gp[i];
          const PolyValue p = evaluate(c.data() + ch, C, d, s, xv);
          // p'(x) = c1 + s·(inner'·x² + inner·2x), as tfjs differentiates the composition.
          const float dp = d == 1 ? c[C + ch] : c[C + ch] + s * (p.dinner * (xv * xv) + p.inner * (xv * 2.f));
          const float m = mp ? mp[mo + ch * ms] : 0.f;
          const float gm = g * m, ga = g - gm;
          dxp[i] = ga * dp + gm * (xv > 0.f ? 1.f : 0.f);
          if (dm) dm[mo + ch * ms] += g * ((xv < 0.f ? 0.f : xv) - p.value);
          double pw = 1.0;
          for (int64_t q = 0; q < K; q++, pw *= xv) dc[q * C + ch] += ga * pw;
        }
      }
    }
  });
  at::Tensor dmask = l.M ? at::zeros_like(mask) : at::empty({0}, x.options());
  float* dmp = l.M ? dmask.data_ptr<float>() : nullptr;
  for (int64_t k = 0; k < chunks && dmp; k++)
    for (int64_t j = 0; j < l.M; j++) dmp[j] += dmPart[k * l.M + j];
  at::Tensor dcoeffs = at::empty({K, C}, x.options());
  float* dcp = dcoeffs.data_ptr<float>();
  for (int64_t j = 0; j < K * C; j++) {
    double sum = 0;
    for (int64_t k = 0; k < chunks; k++) sum += dcPart[k * K * C + j];
    dcp[j] = static_cast<float>(j >= 2 * C ? sum * s * pass[j] : sum);
  }
  return {dx, dmask, dcoeffs};
}

}  // namespace polynas
