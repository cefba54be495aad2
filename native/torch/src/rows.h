// polynas torch engine: what the hand-written row kernels (gate.cc, norm.cc) share.
//
// They see an NHWC tensor as rows of C channels. Reductions over rows are summed in float over
// kFlushRows rows, then in double per chunk, over a fixed number of chunks, then the chunks in
// order, so results do not depend on the thread count.
#pragma once

#include <torch/torch.h>

#include <ATen/Parallel.h>

// Row loops are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time, as LibTorch
// picks its own kernels. Floating-point contraction stays off (ISO C++), so every version rounds
// alike and results do not depend on the machine.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POLYNAS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define POLYNAS_CLONES
#endif

#include <algorithm>
#include <string>
#include <vector>

namespace polynas {

constexpr int64_t kChunks = 16;
constexpr int64_t kFlushRows = 64;

inline std::string shapeText(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); i++) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

// Rows of chunk k of `chunks` over `rows` rows: [first, last).
inline int64_t chunkStart(int64_t rows, int64_t chunks, int64_t k) { return rows * k / chunks; }

// Per-row sums: body(first, last, acc) adds the `width` values of rows [first, last) into acc
// (float, at most kFlushRows rows, then added to the chunk's double sums). Rows are split into a fixed number of chunks (in
// parallel), and the chunks' sums are added in order.
template <typename Body>
std::vector<double> sumRows(int64_t rows, int64_t width, Body&& body) {
  const int64_t chunks = std::max<int64_t>(1, std::min(kChunks, rows));
  std::vector<double> part(static_cast<size_t>(chunks * width), 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    std::vector<float> acc(static_cast<size_t>(width));
    for (int64_t k = b; k < e; k++) {
      double* sum = part.data() + k * width;
      const int64_t r1 = chunkStart(rows, chunks, k + 1);
      for (int64_t f = chunkStart(rows, chunks, k); f < r1; f += kFlushRows) {
        std::fill(acc.begin(), acc.end(), 0.f);
        body(f, std::min(r1, f + kFlushRows), acc.data());
        for (int64_t j = 0; j < width; j++) sum[j] += acc[j];
      }
    }
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t k = 0; k < chunks; k++)
    for (int64_t j = 0; j < width; j++) total[j] += part[k * width + j];
  return total;
}

}  // namespace polynas
