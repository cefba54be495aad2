// polynas torch engine: the fused kernels of a mask gate over a channel-wise polynomial (gate.cc).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace polynas {

// The gate's settings: `scale` multiplies the x² and higher terms; coefficients k ≥ 2 are clipped
// to [−clip, clip] when clip ≥ 0 (no clip when negative).
struct PolyAttrs {
  double scale;
  double clip;
};

// out = p(x) + m·(relu(x) − p(x)) with p(x) = c0 + c1·x + scale·x²·(c2 + c3·x + c4·x²) per channel
// (the last axis of x); m broadcasts over the leading axes of x (shape [1], [C] or a per-sample
// shape ending in C), or is undefined for p(x) alone. coeffs is [degree + 1, C], degree 1–4.
at::Tensor maskedPoly(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& coeffs, PolyAttrs a);

// Its gradient: [dx, dmask (mask's shape; empty without a mask), dcoeffs ([degree + 1, C])].
std::vector<at::Tensor> maskedPolyGrad(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& mask, const at::Tensor& coeffs, PolyAttrs a);

// AutoReP's hysteresis update of a binary mask from α: m′ = m·[α − c > −t] + (1 − m)·[α − c > t],
// as float arithmetic (a NaN in α gives NaN). `keepShift` is t − c and `restoreShift` t + c.
at::Tensor hysteresisMask(const at::Tensor& mask, const at::Tensor& alpha, double keepShift, double restoreShift);

}  // namespace polynas
