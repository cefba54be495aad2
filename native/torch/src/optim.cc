// polynas torch engine: a whole optimizer step in one call, one pass over each parameter, where
// per-parameter updates cost a native call and five or six LibTorch kernels each (most parameters
// of a CNN are small: batch norm scales and shifts, biases).
//
// Every expression rounds as the element-wise LibTorch ops it replaces, in float32 with float32
// hyper-parameters (contraction off), so the result is the composed update's.

#include "optim.h"
#include "rows.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace polynas {
namespace {

void checkSame(const at::Tensor& t, const at::Tensor& p, const char* what, size_t i) {
  if (t.scalar_type() != at::kFloat || !t.sizes().equals(p.sizes())) {
    throw std::runtime_error(std::string("polynas torch: optimizer step: ") + what + " " + std::to_string(i) + " is " + shapeText(t) + " for a parameter " + shapeText(p) + " (want float32, the parameter's shape)");
  }
}

POLYNAS_CLONES void sgdSpan(const float* __restrict p, const float* __restrict g0, const float* __restrict b0, float* __restrict po, float* __restrict bo, float lr,
                            float momentum, float wd, bool nesterov, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    float g = g0[j];
    if (wd != 0.f) g = g + p[j] * wd;
    const float b = momentum > 0.f ? b0[j] * momentum + g : g;
    if (momentum > 0.f) g = nesterov ? g + b * momentum : b;
    bo[j] = b;
    po[j] = p[j] - g * lr;
  }
}

POLYNAS_CLONES void adamSpan(const float* __restrict p, const float* __restrict g0, const float* __restrict m0, const float* __restrict v0, float* __restrict po,
                             float* __restrict mo, float* __restrict vo, float lr, float b1, float omb1, float b2, float omb2, float eps, float wd, bool decoupled,
                             float c1, float c2, float decay, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    float g = g0[j];
    if (wd != 0.f && !decoupled) g = g + p[j] * wd;
    const float m = m0[j] * b1 + g * omb1;
    const float v = v0[j] * b2 + (g * g) * omb2;
    const float update = (m / c1) / (std::sqrt(v / c2) + eps);
    const float base = wd != 0.f && decoupled ? p[j] * decay : p[j];
    mo[j] = m;
    vo[j] = v;
    po[j] = base - update * lr;
  }
}

// Runs body(offset, n) over a parameter's elements, in parallel where it is large.
template <typename Body>
void overElements(int64_t n, Body&& body) {
  at::parallel_for(0, n, 65536, [&](int64_t b, int64_t e) { body(b, e - b); });
}

}  // namespace

std::vector<at::Tensor> sgdSteps(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& bufs, double lr,
                                 double momentum, double weightDecay, bool nesterov) {
  if (grads.size() != params.size() || bufs.size() != params.size()) throw std::runtime_error("polynas torch: sgdSteps: parameters, gradients and buffers differ in number");
  std::vector<at::Tensor> out(2 * params.size());
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor p = params[i].contiguous(), g = grads[i].contiguous(), b = bufs[i].contiguous();
    if (p.scalar_type() != at::kFloat) throw std::runtime_error("polynas torch: sgdSteps: parameter " + std::to_string(i) + " is not float32");
    checkSame(g, p, "gradient", i);
    checkSame(b, p, "buffer", i);
    at::Tensor po = at::empty_like(p), bo = at::empty_like(p);
    const float *pp = p.data_ptr<float>(), *gp = g.data_ptr<float>(), *bp = b.data_ptr<float>();
    float *pop = po.data_ptr<float>(), *bop = bo.data_ptr<float>();
    overElements(p.numel(), [&](int64_t j, int64_t n) {
      sgdSpan(pp + j, gp + j, bp + j, pop + j, bop + j, static_cast<float>(lr), static_cast<float>(momentum), static_cast<float>(weightDecay), nesterov, n);
    });
    out[i] = po;
    out[params.size() + i] = bo;
  }
  return out;
}

std::vector<at::Tensor> adamSteps(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& ms,
                                  const std::vector<at::Tensor>& vs, AdamAttrs a) {
  const size_t k = params.size();
  if (grads.size() != k || ms.size() != k || vs.size() != k) throw std::runtime_error("polynas torch: adamSteps: parameters, gradients and moments differ in number");
  std::vector<at::Tensor> out(3 * k);
  for (size_t i = 0; i < k; i++) {
    at::Tensor p = params[i].contiguous(), g = grads[i].contiguous(), m = ms[i].contiguous(), v = vs[i].contiguous();
    if (p.scalar_type() != at::kFloat) throw std::runtime_error("polynas torch: adamSteps: parameter " + std::to_string(i) + " is not float32");
    checkSame(g, p, "gradient", i);
    checkSame(m, p, "first moment", i);
    checkSame(v, p, "second moment", i);
    at::Tensor po = at::empty_like(p), mo = at::empty_like(p), vo = at::empty_like(p);
    const float *pp = p.data_ptr<float>(), *gp = g.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
    float *pop = po.data_ptr<float>(), *mop = mo.data_ptr<float>(), *vop = vo.data_ptr<float>();
    overElements(p.numel(), [&](int64_t j, int64_t n) {
      adamSpan(pp + j, gp + j, mp + j, vp + j, pop + j, mop + j, vop + j, static_cast<float>(a.lr), static_cast<float>(a.beta1), static_cast<float>(1 - a.beta1),
               static_cast<float>(a.beta2), static_cast<float>(1 - a.beta2), static_cast<float>(a.eps), static_cast<float>(a.weightDecay), a.decoupled,
               static_cast<float>(a.c1), static_cast<float>(a.c2), static_cast<float>(1 - a.lr * a.weightDecay), n);
    });
    out[i] = po;
    out[k + i] = mo;
    out[2 * k + i] = vo;
  }
  return out;
}

}  // namespace polynas
