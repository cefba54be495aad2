// polynas torch engine: what the hand-written row kernels (gate.cc, norm.cc) share.
//
// They see an NHWC tensor as rows of C channels. Reductions are summed in float over a few rows
// (kFlushRows rows in gate.cc, kFlushTiles tiles in norm.cc), then in double per chunk, over a
// fixed number of chunks, then the chunks in order, so results do not depend on the thread count.
#pragma once

#include <torch/torch.h>

#include <ATen/Parallel.h>

// Row loops are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time, as LibTorch
// picks its own kernels. The build turns floating-point contraction off (-ffp-contract=off), so
// every version rounds alike and results do not depend on the machine; -fno-math-errno lets sqrt
// vectorise without changing its rounding. GCC 12 is the first to take arch= levels here.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
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

// Whole rows taken together so that a loop over their elements is long enough to vectorise
// whatever the channel count (with C = 16, one row is a single AVX-512 vector). Per-channel values
// are repeated over a tile (`tiled`), and loops run over a tile's elements, which start on a row.
struct Tiles {
  int64_t C, rows, perTile, len, count;  // rows per tile, elements per tile, tiles
  explicit Tiles(int64_t channels, int64_t nrows) : C(channels), rows(nrows) {
    perTile = std::max<int64_t>(1, 512 / std::max<int64_t>(C, 1));
    len = perTile * C;
    count = (rows + perTile - 1) / perTile;
  }
  int64_t start(int64_t t) const { return t * len; }
  int64_t size(int64_t t) const { return (std::min(rows, (t + 1) * perTile) - t * perTile) * C; }
};

inline std::vector<float> tiled(const float* perChannel, const Tiles& t) {
  std::vector<float> out(static_cast<size_t>(t.len));
  for (int64_t j = 0; j < t.len; j++) out[j] = perChannel[j % t.C];
  return out;
}

// Per-channel sums over the tiles: body(offset, n, acc) adds the `parts` values of elements
// [offset, offset + n) into acc (parts arrays of a tile's length, float, at most kFlushTiles
// tiles), which are then folded into per-channel double sums, parts · C in all. Tiles are split
// into a fixed number of chunks (in parallel), and the chunks' sums are added in order.
constexpr int64_t kFlushTiles = 32;

// sum[c] += Σ_r acc[r·C + c] over a tile's rows.
POLYNAS_CLONES inline void foldTile(const float* __restrict acc, double* __restrict sum, int64_t C, int64_t rows) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < C; c++) sum[c] += acc[r * C + c];
}

template <typename Body>
std::vector<double> sumTiles(const Tiles& t, int64_t parts, Body&& body) {
  const int64_t chunks = std::max<int64_t>(1, std::min(kChunks, t.count));
  const int64_t width = parts * t.C;
  std::vector<double> part(static_cast<size_t>(chunks * width), 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    std::vector<float> acc(static_cast<size_t>(parts * t.len));
    for (int64_t k = b; k < e; k++) {
      double* sum = part.data() + k * width;
      const int64_t t1 = chunkStart(t.count, chunks, k + 1);
      for (int64_t f = chunkStart(t.count, chunks, k); f < t1; f += kFlushTiles) {
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t i = f; i < std::min(t1, f + kFlushTiles); i++) body(t.start(i), t.size(i), acc.data());
        for (int64_t p = 0; p < parts; p++) foldTile(acc.data() + p * t.len, sum + p * t.C, t.C, t.perTile);
      }
    }
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t k = 0; k < chunks; k++)
    for (int64_t j = 0; j < width; j++) total[j] += part[k * width + j];
  return total;
}

// Runs body(offset, n) over the tiles in parallel.
template <typename Body>
void forTiles(const Tiles& t, Body&& body) {
  at::parallel_for(0, t.count, std::max<int64_t>(1, 32768 / std::max<int64_t>(t.len, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) body(t.start(i), t.size(i));
  });
}

}  // namespace polynas
