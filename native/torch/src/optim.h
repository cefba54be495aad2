// polynas torch engine: optimizer updates of many parameters in one call (optim.cc).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace polynas {

// SGD, PyTorch semantics: g ← grad + wd·p; buf ← momentum·buf + g (without momentum, buf ← g);
// Nesterov: g ← g + momentum·buf, else g ← buf; p ← p − lr·g. Returns p′ for every parameter, then
// buf′ for every parameter.
std::vector<at::Tensor> sgdSteps(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& bufs, double lr,
                                 double momentum, double weightDecay, bool nesterov);

struct AdamAttrs {
  double lr, beta1, beta2, eps, weightDecay;
  bool decoupled;
  double c1, c2;  // bias corrections 1 − βᵗ
};

// Adam / AdamW with bias correction, PyTorch semantics. Returns p′, then m′, then v′, each for every
// parameter.
std::vector<at::Tensor> adamSteps(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& ms,
                                  const std::vector<at::Tensor>& vs, AdamAttrs a);

}  // namespace polynas
