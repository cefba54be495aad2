// polynas torch engine: training-mode batch norm fused with a residual add and a ReLU (norm.cc).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace polynas {

// y = relu(γ·(x − mean)·invstd + β [+ residual]) over the rows of an NHWC tensor x (statistics over
// every axis but the last; biased variance). residual (x's shape) and the running statistics may be
// undefined. Returns [y, mean, invstd] and, with running statistics, [runningMean', runningVar']
// updated as PyTorch does (momentum-weighted, unbiased variance; 0 for a single value per channel).
std::vector<at::Tensor> batchNormRelu(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, const at::Tensor& residual,
                                      const at::Tensor& runningMean, const at::Tensor& runningVar, double eps, double momentum);

// Its gradient, from the forward's mean and invstd: [dx, dgamma, dbeta] and, when the forward had a
// residual, its gradient. With a residual, y is the forward's output (the ReLU passed where y > 0);
// without one, y is undefined and the ReLU's mask is recomputed from x.
std::vector<at::Tensor> batchNormReluGrad(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& y, const at::Tensor& gamma, const at::Tensor& beta,
                                          const at::Tensor& mean, const at::Tensor& invstd);

}  // namespace polynas
