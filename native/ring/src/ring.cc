// polynas private-inference runtime: arithmetic in the ring Z_2^64.
//
// Every value is a uint64_t; unsigned overflow wraps modulo 2^64 by the C++ standard, which is
// exactly the ring the 2PC protocols of `polynas pi` work in. Vectors cross from JavaScript as
// BigUint64Array (or BigInt64Array) views; results come back as new BigUint64Arrays. Layouts are
// polynas': NHWC activations, HWIO convolution weights ([k, k, cin, cout]), [in, out] matrices.
// Single-threaded on purpose: the three parties of a run share the machine's cores.

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using u64 = uint64_t;

struct Vec {
  u64* data;
  size_t size;
};

Vec vec(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw std::runtime_error(std::string("polynas ring: ") + what + " must be a BigUint64Array");
  auto ta = v.As<Napi::TypedArray>();
  auto t = ta.TypedArrayType();
  if (t != napi_biguint64_array && t != napi_bigint64_array) throw std::runtime_error(std::string("polynas ring: ") + what + " must be a BigUint64Array");
  auto* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return {reinterpret_cast<u64*>(base), ta.ElementLength()};
}

Napi::Value fresh(Napi::Env env, size_t n, u64** out) {
  auto buf = Napi::ArrayBuffer::New(env, n * sizeof(u64));
  *out = static_cast<u64*>(buf.Data());
  std::memset(*out, 0, n * sizeof(u64));
  return Napi::TypedArrayOf<uint64_t>::New(env, n, buf, 0, napi_biguint64_array);
}

int64_t num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

std::vector<int64_t> ints(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

#define FN(name) Napi::Value fn_##name(const Napi::CallbackInfo& info) { Napi::Env env = info.Env(); try {
#define END } catch (const std::exception& e) { Napi::Error::New(env, e.what()).ThrowAsJavaScriptException(); return env.Undefined(); } }

// binary(op, a, b): element-wise a op b; b is cycled (length 1: a scalar, C: per channel of NHWC
// data, per-sample size: per element of every sample). ops: 0 add, 1 sub, 2 mul, 3 xor, 4 and.
FN(binary)
  const int op = static_cast<int>(num(info, 0));
  Vec a = vec(info[1], "a"), b = vec(info[2], "b");
  if (b.size == 0 || a.size % b.size != 0) throw std::runtime_error("polynas ring: binary: length " + std::to_string(b.size) + " does not divide " + std::to_string(a.size));
  u64* o;
  Napi::Value r = fresh(env, a.size, &o);
  for (size_t i = 0, j = 0; i < a.size; i++, j = (j + 1 == b.size ? 0 : j + 1)) {
    const u64 x = a.data[i], y = b.data[j];
    switch (op) {
      case 0: o[i] = x + y; break;
      case 1: o[i] = x - y; break;
      case 2: o[i] = x * y; break;
      case 3: o[i] = x ^ y; break;
      case 4: o[i] = x & y; break;
      default: throw std::runtime_error("polynas ring: unknown binary op " + std::to_string(op));
    }
  }
  return r;
END

// shift(a, k, kind): 0 logical left, 1 logical right, 2 arithmetic right (two's complement).
FN(shift)
  Vec a = vec(info[0], "a");
  const int k = static_cast<int>(num(info, 1)), kind = static_cast<int>(num(info, 2));
  if (k < 0 || k > 63) throw std::runtime_error("polynas ring: shift by " + std::to_string(k));
  u64* o;
  Napi::Value r = fresh(env, a.size, &o);
  for (size_t i = 0; i < a.size; i++) {
    const u64 x = a.data[i];
    o[i] = kind == 0 ? x << k : kind == 1 ? x >> k : static_cast<u64>(static_cast<int64_t>(x) >> k);
  }
  return r;
END

// truncate(a, f, party): SecureML's local truncation of a share by 2^f. Party 0 shifts its share,
// party 1 negates, shifts and negates back; the sum is ⌊x / 2^f⌋ or one more, except with
// probability about |x| / 2^64 (party 0's uniform share falling within |x| of the wrap).
FN(truncate)
  Vec a = vec(info[0], "a");
  const int f = static_cast<int>(num(info, 1)), party = static_cast<int>(num(info, 2));
  u64* o;
  Napi::Value r = fresh(env, a.size, &o);
  for (size_t i = 0; i < a.size; i++) o[i] = party == 0 ? a.data[i] >> f : 0 - ((0 - a.data[i]) >> f);
  return r;
END

// gather(a, idx, n): per sample of n elements, out[s][j] = a[s][idx[j]].
FN(gather)
  Vec a = vec(info[0], "a");
  auto idx = info[1].As<Napi::Int32Array>();
  const size_t n = static_cast<size_t>(num(info, 2)), m = idx.ElementLength(), samples = a.size / n;
  u64* o;
  Napi::Value r = fresh(env, samples * m, &o);
  for (size_t s = 0; s < samples; s++)
    for (size_t j = 0; j < m; j++) o[s * m + j] = a.data[s * n + static_cast<size_t>(idx[j])];
  return r;
END

// scatter(into, a, idx, n): per sample, into[s][idx[j]] = a[s][j] (in place; returns into).
FN(scatter)
  Vec into = vec(info[0], "into"), a = vec(info[1], "a");
  auto idx = info[2].As<Napi::Int32Array>();
  const size_t n = static_cast<size_t>(num(info, 3)), m = idx.ElementLength(), samples = into.size / n;
  for (size_t s = 0; s < samples; s++)
    for (size_t j = 0; j < m; j++) into.data[s * n + static_cast<size_t>(idx[j])] = a.data[s * m + j];
  return info[0];
END

// matmul(x [N,K], w [K,M]) → [N,M].
FN(matmul)
  Vec x = vec(info[0], "x"), w = vec(info[1], "w");
  const size_t n = static_cast<size_t>(num(info, 2)), k = static_cast<size_t>(num(info, 3)), m = static_cast<size_t>(num(info, 4));
  if (x.size != n * k || w.size != k * m) throw std::runtime_error("polynas ring: matmul shapes do not match the data");
  u64* o;
  Napi::Value r = fresh(env, n * m, &o);
  for (size_t i = 0; i < n; i++) {
    u64* row = o + i * m;
    for (size_t p = 0; p < k; p++) {
      const u64 xv = x.data[i * k + p];
      const u64* wr = w.data + p * m;
      for (size_t j = 0; j < m; j++) row[j] += xv * wr[j];
    }
  }
  return r;
END

// conv2d(x [N,H,W,C], w [k,k,C,O], geometry [N,H,W,C,k,O,stride,pad]) → [N,OH,OW,O]; padding is zero.
FN(conv2d)
  Vec x = vec(info[0], "x"), w = vec(info[1], "w");
  auto g = ints(info[2]);
  const int64_t N = g[0], H = g[1], W = g[2], C = g[3], K = g[4], O = g[5], S = g[6], P = g[7];
  const int64_t OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
  if (static_cast<int64_t>(x.size) != N * H * W * C || static_cast<int64_t>(w.size) != K * K * C * O) throw std::runtime_error("polynas ring: conv2d shapes do not match the data");
  u64* o;
  Napi::Value r = fresh(env, static_cast<size_t>(N * OH * OW * O), &o);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        u64* out = o + ((n * OH + oy) * OW + ox) * O;
        for (int64_t ky = 0; ky < K; ky++) {
          const int64_t iy = oy * S - P + ky;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < K; kx++) {
            const int64_t ix = ox * S - P + kx;
            if (ix < 0 || ix >= W) continue;
            const u64* in = x.data + ((n * H + iy) * W + ix) * C;
            const u64* wk = w.data + (ky * K + kx) * C * O;
            for (int64_t c = 0; c < C; c++) {
              const u64 xv = in[c];
              const u64* wr = wk + c * O;
              for (int64_t j = 0; j < O; j++) out[j] += xv * wr[j];
            }
          }
        }
      }
  return r;
END

// windows(x [N,H,W,C], geometry [N,H,W,C,k,stride,pad]) → [N,OH,OW,C,k*k]: each output position's
// window, padded positions filled with `fill` (0 for sums, or a copy of the window's first valid
// element so that a max over the window never picks padding). Also returns valid counts per
// position when asked (for average pooling that excludes padding).
FN(windows)
  Vec x = vec(info[0], "x");
  auto g = ints(info[1]);
  const bool repeatFirst = info[2].As<Napi::Boolean>().Value();
  const int64_t N = g[0], H = g[1], W = g[2], C = g[3], K = g[4], S = g[5], P = g[6];
  const int64_t OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
  u64* o;
  Napi::Value r = fresh(env, static_cast<size_t>(N * OH * OW * C * K * K), &o);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t c = 0; c < C; c++) {
          u64* win = o + (((n * OH + oy) * OW + ox) * C + c) * K * K;
          int64_t first = -1;
          for (int64_t ky = 0; ky < K; ky++)
            for (int64_t kx = 0; kx < K; kx++) {
              const int64_t iy = oy * S - P + ky, ix = ox * S - P + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const u64 v = x.data[((n * H + iy) * W + ix) * C + c];
              win[ky * K + kx] = v;
              if (first < 0) first = ky * K + kx;
            }
          if (repeatFirst && first >= 0)
            for (int64_t ky = 0; ky < K; ky++)
              for (int64_t kx = 0; kx < K; kx++) {
                const int64_t iy = oy * S - P + ky, ix = ox * S - P + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) win[ky * K + kx] = win[first];
              }
        }
  return r;
END

// rowSum(a, m) → sums of consecutive groups of m.
FN(rowSum)
  Vec a = vec(info[0], "a");
  const size_t m = static_cast<size_t>(num(info, 1));
  u64* o;
  Napi::Value r = fresh(env, a.size / m, &o);
  for (size_t i = 0; i < a.size / m; i++) {
    u64 s = 0;
    for (size_t j = 0; j < m; j++) s += a.data[i * m + j];
    o[i] = s;
  }
  return r;
END

// strided(a, m, offset, count, step) → for each group of m: elements offset, offset+step, … (count of them).
FN(strided)
  Vec a = vec(info[0], "a");
  const size_t m = static_cast<size_t>(num(info, 1)), off = static_cast<size_t>(num(info, 2)), cnt = static_cast<size_t>(num(info, 3)), step = static_cast<size_t>(num(info, 4));
  const size_t groups = a.size / m;
  u64* o;
  Napi::Value r = fresh(env, groups * cnt, &o);
  for (size_t i = 0; i < groups; i++)
    for (size_t j = 0; j < cnt; j++) o[i * cnt + j] = a.data[i * m + off + j * step];
  return r;
END

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, fn_##name))
  EXPORT(binary); EXPORT(shift); EXPORT(truncate); EXPORT(gather); EXPORT(scatter);
  EXPORT(matmul); EXPORT(conv2d); EXPORT(windows); EXPORT(rowSum); EXPORT(strided);
#undef EXPORT
  return exports;
}

NODE_API_MODULE(polynas_ring, Init)
