// polynas torch engine: the tensor store and kernels behind the `torch` TensorFlow.js backend.
//
// Tensors live in native memory as at::Tensor values keyed by a numeric handle; data crosses into
// JavaScript only on read(). Shapes and layouts are TensorFlow.js': NHWC activations and HWIO
// filters. Convolutions and pools view them as NCHW with channels-last strides (no copy) and
// hand the result back as NHWC.
//
// Every op returns [handle, dtype, ...shape] (or an array of those for several outputs).
// dtype codes: 0 float32, 1 int32, 2 bool.

#include <napi.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <malloc.h>
#include <unordered_map>

#include "gate.h"
#include "norm.h"
#include "optim.h"

namespace {

std::unordered_map<int64_t, at::Tensor> store;
int64_t nextHandle = 1;

int dtypeCode(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return 0;
    case at::kInt: return 1;
    case at::kBool: return 2;
    default: throw std::runtime_error(std::string("polynas torch: unsupported result dtype ") + c10::toString(t.scalar_type()));
  }
}

at::ScalarType scalarType(int code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kInt;
    case 2: return at::kBool;
    default: throw std::runtime_error("polynas torch: unknown dtype code " + std::to_string(code));
  }
}

// TensorFlow.js has no 64-bit types: results are brought back to float32 / int32.
at::Tensor normalize(at::Tensor t) {
  switch (t.scalar_type()) {
    case at::kDouble: case at::kHalf: case at::kBFloat16: return t.to(at::kFloat);
    case at::kLong: case at::kShort: case at::kByte: case at::kChar: return t.to(at::kInt);
    default: return t;
  }
}

Napi::Value result(Napi::Env env, at::Tensor t) {
  t = normalize(std::move(t));
  int64_t h = nextHandle++;
  auto shape = t.sizes().vec();
  int code = dtypeCode(t);
  store.emplace(h, std::move(t));
  Napi::Array out = Napi::Array::New(env, 2 + shape.size());
  out.Set(0u, Napi::Number::New(env, static_cast<double>(h)));
  out.Set(1u, Napi::Number::New(env, code));
  for (size_t i = 0; i < shape.size(); i++) out.Set(static_cast<uint32_t>(i + 2), Napi::Number::New(env, static_cast<double>(shape[i])));
  return out;
}

Napi::Value results(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) out.Set(static_cast<uint32_t>(i), result(env, ts[i]));
  return out;
}

const at::Tensor& get(const Napi::Value& v) {
  int64_t h = v.As<Napi::Number>().Int64Value();
  auto it = store.find(h);
  if (it == store.end()) throw std::runtime_error("polynas torch: no tensor with handle " + std::to_string(h) + " (disposed?)");
  return it->second;
}

std::vector<int64_t> ints(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

double num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
int64_t i64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

// Wraps a function body so C++ exceptions become JavaScript errors.
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string("polynas torch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

#define FN(name) Napi::Value fn_##name(const Napi::CallbackInfo& info) { return guard(info, [&]() -> Napi::Value { auto env = info.Env(); (void)env;
#define END }); }

// ---- store ----

FN(write)
  auto shape = ints(info[1]);
  auto type = scalarType(static_cast<int>(i64(info, 2)));
  Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
  auto buf = arr.ArrayBuffer();
  uint8_t* src = static_cast<uint8_t*>(buf.Data()) + arr.ByteOffset();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  size_t n = static_cast<size_t>(t.numel());
  if (type == at::kBool) {
    // Booleans arrive as Uint8Array or Int32Array.
    bool* dst = t.data_ptr<bool>();
    if (arr.TypedArrayType() == napi_int32_array) { auto s = reinterpret_cast<int32_t*>(src); for (size_t i = 0; i < n; i++) dst[i] = s[i] != 0; }
    else for (size_t i = 0; i < n; i++) dst[i] = src[i] != 0;
  } else {
    size_t bytes = n * t.element_size();
    if (arr.ByteLength() < bytes) throw std::runtime_error("polynas torch: write got " + std::to_string(arr.ByteLength()) + " bytes for " + std::to_string(bytes));
    std::memcpy(t.data_ptr(), src, bytes);
  }
  return result(env, t);
END

FN(read)
  at::Tensor t = get(info[0]).contiguous();
  size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case at::kFloat: { auto a = Napi::Float32Array::New(env, n); if (n) std::memcpy(a.Data(), t.data_ptr<float>(), n * 4); return a; }
    case at::kInt: { auto a = Napi::Int32Array::New(env, n); if (n) std::memcpy(a.Data(), t.data_ptr<int32_t>(), n * 4); return a; }
    case at::kBool: { auto a = Napi::Uint8Array::New(env, n); const bool* s = t.data_ptr<bool>(); for (size_t i = 0; i < n; i++) a[i] = s[i] ? 1 : 0; return a; }
    default: throw std::runtime_error("polynas torch: cannot read dtype");
  }
END

FN(dispose)
  store.erase(i64(info, 0));
  return env.Undefined();
END

FN(stats)
  double bytes = 0;
  for (auto& kv : store) bytes += static_cast<double>(kv.second.numel() * kv.second.element_size());
  Napi::Object o = Napi::Object::New(env);
  o.Set("tensors", Napi::Number::New(env, static_cast<double>(store.size())));
  o.Set("bytes", Napi::Number::New(env, bytes));
  return o;
END

FN(setThreads)
  at::set_num_threads(static_cast<int>(i64(info, 0)));
  return env.Undefined();
END

FN(info)
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", Napi::Number::New(env, at::get_num_threads()));
  o.Set("config", Napi::String::New(env, at::show_config()));
  o.Set("version", Napi::String::New(env, TORCH_VERSION));
  return o;
END

// The distinct threads one parallel loop of the hand-written kernels runs on: at::parallel_for is
// OpenMP inlined into this addon, so a build without OpenMP would run those loops on one thread.
FN(rowThreads)
  std::atomic<uint64_t> seen{0};
  at::parallel_for(0, 256, 1, [&](int64_t, int64_t) { seen |= uint64_t{1} << std::min(at::get_thread_num(), 63); });
  return Napi::Number::New(env, __builtin_popcountll(seen.load()));
END

// ---- element-wise ----

enum Unary { ABS, NEG, EXP, LOG, SQRT, RSQRT, SQUARE, RELU, RELU6, SIGMOID, TANH, SOFTPLUS, SIGN, FLOOR, CEIL, ROUND,
             RECIPROCAL, LOG1P, EXPM1, SIN, COS, ERF, ISNAN, LOGICAL_NOT, STEP, ELU, LEAKY_RELU };

FN(unary)
  const at::Tensor& x = get(info[1]);
  double alpha = info.Length() > 2 ? num(info, 2) : 0.0;
  switch (static_cast<Unary>(i64(info, 0))) {
    case ABS: return result(env, at::abs(x));
    case NEG: return result(env, at::neg(x));
    case EXP: return result(env, at::exp(x));
    case LOG: return result(env, at::log(x));
    case SQRT: return result(env, at::sqrt(x));
    case RSQRT: return result(env, at::rsqrt(x));
    case SQUARE: return result(env, at::mul(x, x));
    case RELU: return result(env, at::relu(x));
    case RELU6: return result(env, at::clamp(x, 0, 6));
    case SIGMOID: return result(env, at::sigmoid(x));
    case TANH: return result(env, at::tanh(x));
    case SOFTPLUS: return result(env, at::softplus(x));
    case SIGN: return result(env, at::sign(x));
    case FLOOR: return result(env, at::floor(x));
    case CEIL: return result(env, at::ceil(x));
    case ROUND: return result(env, at::round(x));  // half to even, as TensorFlow.js
    case RECIPROCAL: return result(env, at::reciprocal(x));
    case LOG1P: return result(env, at::log1p(x));
    case EXPM1: return result(env, at::expm1(x));
    case SIN: return result(env, at::sin(x));
    case COS: return result(env, at::cos(x));
    case ERF: return result(env, at::erf(x));
    case ISNAN: return result(env, at::isnan(x));
    case LOGICAL_NOT: return result(env, at::logical_not(x));
    case STEP: {  // x > 0 ? 1 : alpha, NaN stays NaN
      at::Tensor pos = x > 0;
      at::Tensor y = alpha == 0 ? pos.to(x.scalar_type()) : at::where(pos, at::ones_like(x), at::full_like(x, alpha));
      if (x.is_floating_point()) y.masked_fill_(at::isnan(x), std::numeric_limits<float>::quiet_NaN());
      return result(env, y);
    }
    case ELU: return result(env, at::elu(x));
    case LEAKY_RELU: return result(env, at::leaky_relu(x, alpha));
  }
  throw std::runtime_error("polynas torch: unknown unary op");
END

enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, SQUARED_DIFF, FLOOR_DIV, MOD, EQUAL, NOT_EQUAL, GREATER,
              GREATER_EQUAL, LESS, LESS_EQUAL, LOGICAL_AND, LOGICAL_OR, ATAN2, PRELU };

FN(binary)
  const at::Tensor& a = get(info[1]);
  const at::Tensor& b = get(info[2]);
  switch (static_cast<Binary>(i64(info, 0))) {
    case ADD: return result(env, at::add(a, b));
    case SUB: return result(env, at::sub(a, b));
    case MUL: return result(env, at::mul(a, b));
    case DIV: return result(env, at::div(a, b));
    case POW: {
      // int32 ** int32 stays int32 in TensorFlow.js.
      at::Tensor y = at::pow(a.to(at::kFloat), b.to(at::kFloat));
      return result(env, a.scalar_type() == at::kInt && b.scalar_type() == at::kInt ? y.round().to(at::kInt) : y);
    }
    case MAXIMUM: return result(env, at::maximum(a, b));
    case MINIMUM: return result(env, at::minimum(a, b));
    case SQUARED_DIFF: { at::Tensor d = at::sub(a, b); return result(env, at::mul(d, d)); }
    case FLOOR_DIV: return result(env, at::div(a, b, "floor").to(at::kInt));  // int32, as TensorFlow.js
    case MOD: return result(env, at::remainder(a, b));
    case EQUAL: return result(env, at::eq(a, b));
    case NOT_EQUAL: return result(env, at::ne(a, b));
    case GREATER: return result(env, at::gt(a, b));
    case GREATER_EQUAL: return result(env, at::ge(a, b));
    case LESS: return result(env, at::lt(a, b));
    case LESS_EQUAL: return result(env, at::le(a, b));
    case LOGICAL_AND: return result(env, at::logical_and(a, b));
    case LOGICAL_OR: return result(env, at::logical_or(a, b));
    case ATAN2: return result(env, at::atan2(a, b));
    case PRELU: return result(env, at::where(a > 0, a, at::mul(a, b)));
  }
  throw std::runtime_error("polynas torch: unknown binary op");
END

FN(addN)
  Napi::Array ids = info[0].As<Napi::Array>();
  at::Tensor acc = get(ids.Get(0u)).clone();
  for (uint32_t i = 1; i < ids.Length(); i++) acc.add_(get(ids.Get(i)));
  return result(env, acc);
END

FN(select)
  return result(env, at::where(get(info[0]).to(at::kBool), get(info[1]), get(info[2])));
END

FN(clip)
  return result(env, at::clamp(get(info[0]), num(info, 1), num(info, 2)));
END

FN(cast)
  const at::Tensor& x = get(info[0]);
  auto type = scalarType(static_cast<int>(i64(info, 1)));
  if (type == at::kBool) return result(env, x.ne(0));
  if (type == at::kInt && x.is_floating_point()) return result(env, x.trunc().to(at::kInt));
  return result(env, x.to(type));
END

// ---- reductions ----

enum Reduce { SUM, MEAN, MAX, MIN, PROD, ALL, ANY };

FN(reduce)
  const at::Tensor& x = get(info[1]);
  auto axes = ints(info[2]);
  bool keep = info[3].As<Napi::Boolean>().Value();
  auto op = static_cast<Reduce>(i64(info, 0));
  if (axes.empty()) {
    // No axis: TensorFlow.js returns the input (torch would reduce every axis).
    if (op == MEAN && !x.is_floating_point()) return result(env, x.to(at::kFloat));
    if ((op == SUM || op == PROD) && x.scalar_type() == at::kBool) return result(env, x.to(at::kInt));
    if (op == ALL || op == ANY) return result(env, x.to(at::kBool));
    return result(env, x.clone());
  }
  switch (op) {
    case SUM: return result(env, x.scalar_type() == at::kBool ? at::sum(x.to(at::kInt), axes, keep) : at::sum(x, axes, keep));
    case MEAN: return result(env, at::mean(x.is_floating_point() ? x : x.to(at::kFloat), axes, keep));
    case MAX: return result(env, at::amax(x, axes, keep));
    case MIN: return result(env, at::amin(x, axes, keep));
    case PROD: {
      at::Tensor y = x;
      std::vector<int64_t> sorted = axes;
      std::sort(sorted.rbegin(), sorted.rend());
      for (auto a : sorted) y = at::prod(y, a, keep);
      return result(env, y);
    }
    case ALL: { at::Tensor y = x.to(at::kBool); std::vector<int64_t> s = axes; std::sort(s.rbegin(), s.rend()); for (auto a : s) y = at::all(y, a, keep); return result(env, y); }
    case ANY: { at::Tensor y = x.to(at::kBool); std::vector<int64_t> s = axes; std::sort(s.rbegin(), s.rend()); for (auto a : s) y = at::any(y, a, keep); return result(env, y); }
  }
  throw std::runtime_error("polynas torch: unknown reduction");
END

FN(argMinMax)
  const at::Tensor& x = get(info[1]);
  int64_t axis = i64(info, 2);
  return result(env, i64(info, 0) ? at::argmax(x, axis) : at::argmin(x, axis));
END

FN(softmax)
  return result(env, at::softmax(get(info[0]), i64(info, 1)));
END

FN(logSoftmax)
  return result(env, at::log_softmax(get(info[0]), i64(info, 1)));
END

FN(topk)
  auto r = at::topk(get(info[0]), i64(info, 1), -1, true, info[2].As<Napi::Boolean>().Value());
  return results(env, {std::get<0>(r), std::get<1>(r)});
END

// ---- shapes ----

FN(reshape)
  return result(env, get(info[0]).reshape(ints(info[1])));
END

FN(transpose)
  return result(env, get(info[0]).permute(ints(info[1])).contiguous());
END

FN(slice)
  at::Tensor x = get(info[0]);
  auto begin = ints(info[1]);
  auto size = ints(info[2]);
  for (size_t d = 0; d < begin.size(); d++) x = x.narrow(static_cast<int64_t>(d), begin[d], size[d]);
  return result(env, x.contiguous());
END

FN(pad)
  // paddings as [before0, after0, before1, after1, …]; torch wants the last dimension first.
  auto p = ints(info[1]);
  std::vector<int64_t> rev;
  for (size_t d = p.size() / 2; d-- > 0;) { rev.push_back(p[2 * d]); rev.push_back(p[2 * d + 1]); }
  return result(env, at::constant_pad_nd(get(info[0]), rev, num(info, 2)));
END

FN(concat)
  Napi::Array ids = info[0].As<Napi::Array>();
  std::vector<at::Tensor> ts;
  for (uint32_t i = 0; i < ids.Length(); i++) ts.push_back(get(ids.Get(i)));
  return result(env, at::cat(ts, i64(info, 1)));
END

FN(stack)
  Napi::Array ids = info[0].As<Napi::Array>();
  std::vector<at::Tensor> ts;
  for (uint32_t i = 0; i < ids.Length(); i++) ts.push_back(get(ids.Get(i)));
  return result(env, at::stack(ts, i64(info, 1)));
END

FN(unstack)
  std::vector<at::Tensor> parts;
  for (auto& t : at::unbind(get(info[0]), i64(info, 1))) parts.push_back(t.contiguous());
  return results(env, parts);
END

FN(tile)
  return result(env, get(info[0]).repeat(ints(info[1])));
END

FN(reverse)
  return result(env, at::flip(get(info[0]), ints(info[1])));
END

FN(fill)
  auto type = scalarType(static_cast<int>(i64(info, 2)));
  return result(env, at::full(ints(info[0]), num(info, 1), at::TensorOptions().dtype(type)));
END

FN(gather)
  const at::Tensor& x = get(info[0]);
  const at::Tensor& idx = get(info[1]);
  int64_t axis = i64(info, 2);
  at::Tensor flat = at::index_select(x, axis, idx.reshape({-1}).to(at::kLong));
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < axis; d++) shape.push_back(x.size(d));
  for (auto s : idx.sizes()) shape.push_back(s);
  for (int64_t d = axis + 1; d < x.dim(); d++) shape.push_back(x.size(d));
  return result(env, flat.reshape(shape));
END

FN(oneHot)
  at::Tensor idx = get(info[0]).to(at::kLong);
  int64_t depth = i64(info, 1);
  at::Tensor hit = at::arange(depth, at::TensorOptions().dtype(at::kLong)).eq(idx.unsqueeze(-1));
  auto type = scalarType(static_cast<int>(i64(info, 4)));
  at::Tensor on = at::full({}, num(info, 2), at::TensorOptions().dtype(at::kFloat));
  at::Tensor off = at::full({}, num(info, 3), at::TensorOptions().dtype(at::kFloat));
  return result(env, at::where(hit, on, off).to(type));
END

// ---- linear algebra ----

// A single float32 product [M,K]·[K,N] as a 1×1 convolution: LibTorch builds without an optimized
// BLAS (Debian's libtorch: BLAS_INFO=generic) run at::mm at a few GFLOP/s, while the convolution goes
// to oneDNN. Measured on 2 cores: 64×400×120 in 0.14 ms instead of 1.13 ms, 64×3136×128 in 0.63 ms
// instead of 8.6 ms. Tiny products (under ~100k multiply-adds) stay on at::matmul, where it is faster.
static bool viaConvolution(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || a.dim() != b.dim() || a.dim() < 2 || a.dim() > 3) return false;
  if (a.dim() == 3 && (a.size(0) != 1 || b.size(0) != 1)) return false;
  return a.size(-2) * a.size(-1) * b.size(-1) >= 100000;
}

static at::Tensor matmulViaConvolution(const at::Tensor& a, const at::Tensor& b) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  at::Tensor x = a.reshape({m, k}).contiguous().view({m, k, 1, 1});
  at::Tensor w = b.reshape({k, n}).t().contiguous().view({n, k, 1, 1});
  at::Tensor y = at::conv2d(x, w).view({m, n});
  return a.dim() == 3 ? y.unsqueeze(0) : y;
}

FN(matmul)
  at::Tensor a = get(info[0]);
  at::Tensor b = get(info[1]);
  if (info[2].As<Napi::Boolean>().Value()) a = a.transpose(-1, -2);
  if (info[3].As<Napi::Boolean>().Value()) b = b.transpose(-1, -2);
  return result(env, viaConvolution(a, b) ? matmulViaConvolution(a, b) : at::matmul(a, b));
END

// ---- convolutions (NHWC / HWIO in, NHWC out) ----
// Geometry: [sh, sw, padTop, padBottom, padLeft, padRight, dh, dw]; depthwise: filter [kh,kw,Ci,mult].

struct Geo { int64_t sh, sw, pt, pb, pl, pr, dh, dw; };
Geo geo(const Napi::Value& v) { auto g = ints(v); return {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]}; }

at::Tensor nchw(const at::Tensor& x) { return x.permute({0, 3, 1, 2}); }
at::Tensor nhwc(const at::Tensor& y) { return y.permute({0, 2, 3, 1}).contiguous(); }
// HWIO -> OIHW; depthwise HW(C)(M) -> (C·M)1HW.
at::Tensor oihw(const at::Tensor& w, bool depthwise) {
  if (!depthwise) {
    // HWIO seen as a [kh·kw·I, O] matrix, transposed, is OHWI: OIHW with channels-last strides,
    // the layout the convolution takes without another copy. A 2-d transpose copies fastest.
    const int64_t kh = w.size(0), kw = w.size(1), ci = w.size(2), co = w.size(3);
    return w.reshape({kh * kw * ci, co}).t().contiguous().view({co, kh, kw, ci}).permute({0, 3, 1, 2});
  }
  return w.reshape({w.size(0), w.size(1), 1, w.size(2) * w.size(3)}).permute({3, 2, 0, 1}).contiguous();
}
at::Tensor hwio(const at::Tensor& w, bool depthwise, int64_t ci, int64_t mult) {
  if (!depthwise) {
    // [O,I,kh,kw] as OHWI, seen as an [O, kh·kw·I] matrix, transposed: HWIO.
    const int64_t co = w.size(0), in = w.size(1), kh = w.size(2), kw = w.size(3);
    return w.permute({0, 2, 3, 1}).reshape({co, kh * kw * in}).t().contiguous().view({kh, kw, in, co});
  }
  at::Tensor t = w.permute({2, 3, 1, 0});  // [kh,kw,I,O]
  return t.reshape({t.size(0), t.size(1), ci, mult}).contiguous();
}
bool symmetric(const Geo& g) { return g.pt == g.pb && g.pl == g.pr; }
at::Tensor padNchw(const at::Tensor& x, const Geo& g, double value = 0) {
  if (!g.pt && !g.pb && !g.pl && !g.pr) return x;
  return at::constant_pad_nd(x, {g.pl, g.pr, g.pt, g.pb}, value);
}

FN(conv2d)
  at::Tensor x = nchw(get(info[0])).contiguous(at::MemoryFormat::ChannelsLast);
  bool depthwise = info[3].As<Napi::Boolean>().Value();
  const at::Tensor& w = get(info[1]);
  Geo g = geo(info[2]);
  int64_t groups = depthwise ? x.size(1) : 1;
  const c10::optional<at::Tensor> noBias;
  std::vector<int64_t> stride = {g.sh, g.sw}, dil = {g.dh, g.dw};
  std::vector<int64_t> pad = symmetric(g) ? std::vector<int64_t>{g.pt, g.pl} : std::vector<int64_t>{0, 0};
  at::Tensor y = at::conv2d(symmetric(g) ? x : padNchw(x, g), oihw(w, depthwise), noBias, at::IntArrayRef(stride), at::IntArrayRef(pad), at::IntArrayRef(dil), groups);
  return result(env, nhwc(y));
END

// dx of conv2d: (dy, filter, inputShape NHWC, geometry, depthwise)
FN(conv2dInputGrad)
  at::Tensor dy = nchw(get(info[0])).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor& w = get(info[1]);
  auto inShape = ints(info[2]);  // [B,H,W,C]
  Geo g = geo(info[3]);
  bool depthwise = info[4].As<Napi::Boolean>().Value();
  int64_t groups = depthwise ? inShape[3] : 1;
  // Only the input's shape matters for dx; an uninitialised tensor of that shape stands in for it.
  bool sym = symmetric(g);
  std::vector<int64_t> shape = {inShape[0], inShape[3], inShape[1] + (sym ? 0 : g.pt + g.pb), inShape[2] + (sym ? 0 : g.pl + g.pr)};
  at::Tensor xShape = at::empty(shape, dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  std::vector<int64_t> pad = sym ? std::vector<int64_t>{g.pt, g.pl} : std::vector<int64_t>{0, 0};
  auto grads = at::convolution_backward(dy, xShape, oihw(w, depthwise), c10::nullopt, {g.sh, g.sw}, pad, {g.dh, g.dw}, false, {0, 0}, groups, {true, false, false});
  at::Tensor dx = std::get<0>(grads);
  if (!sym) dx = dx.narrow(2, g.pt, inShape[1]).narrow(3, g.pl, inShape[2]);
  return result(env, nhwc(dx));
END

// dW of conv2d: (x, dy, filterShape HWIO, geometry, depthwise)
FN(conv2dFilterGrad)
  at::Tensor x = nchw(get(info[0])).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor dy = nchw(get(info[1])).contiguous(at::MemoryFormat::ChannelsLast);
  auto fShape = ints(info[2]);
  Geo g = geo(info[3]);
  bool depthwise = info[4].As<Napi::Boolean>().Value();
  int64_t groups = depthwise ? x.size(1) : 1;
  std::vector<int64_t> oShape = depthwise ? std::vector<int64_t>{fShape[2] * fShape[3], 1, fShape[0], fShape[1]} : std::vector<int64_t>{fShape[3], fShape[2], fShape[0], fShape[1]};
  // Channels-last, so that the gradient comes back as OHWI and hwio() is one 2-d transpose.
  at::Tensor wShape = at::empty(oShape, depthwise ? dy.options() : dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  bool sym = symmetric(g);
  std::vector<int64_t> pad = sym ? std::vector<int64_t>{g.pt, g.pl} : std::vector<int64_t>{0, 0};
  auto grads = at::convolution_backward(dy, sym ? x : padNchw(x, g), wShape, c10::nullopt, {g.sh, g.sw}, pad, {g.dh, g.dw}, false, {0, 0}, groups, {false, true, false});
  return result(env, hwio(std::get<1>(grads), depthwise, fShape[2], depthwise ? fShape[3] : 1));
END

// ---- pooling: (x, [kh, kw], geometry) ----

at::Tensor maxPool(const at::Tensor& x, const std::vector<int64_t>& k, const Geo& g) {
  return at::max_pool2d(padNchw(x, g, -std::numeric_limits<double>::infinity()), {k[0], k[1]}, {g.sh, g.sw}, {0, 0}, {g.dh, g.dw});
}
// Mean over the window's cells inside the input (TensorFlow's SAME average excludes padding).
at::Tensor avgPool(const at::Tensor& x, const std::vector<int64_t>& k, const Geo& g) {
  at::Tensor sum = at::avg_pool2d(padNchw(x, g), {k[0], k[1]}, {g.sh, g.sw}, {0, 0}, false, true) * static_cast<double>(k[0] * k[1]);
  if (!g.pt && !g.pb && !g.pl && !g.pr) return sum / static_cast<double>(k[0] * k[1]);
  at::Tensor ones = at::ones({1, 1, x.size(2), x.size(3)}, x.options());
  at::Tensor count = at::avg_pool2d(padNchw(ones, g), {k[0], k[1]}, {g.sh, g.sw}, {0, 0}, false, true) * static_cast<double>(k[0] * k[1]);
  return sum / count;
}

// Max pooling directly on the NHWC data. ATen 1.13's max_pool2d costs 0.6-0.8 ms on a LeNet-5
// activation ([64,28,28,6]) and its gradient needs the forward again; with channels innermost the
// window maximum is a loop over contiguous rows. Padded cells never win; ties go to the first cell
// in row-major window order, as in TensorFlow.js' kernels.
bool nhwcMaxPoolApplies(const at::Tensor& x, const Geo& g) {
  return x.scalar_type() == at::kFloat && x.dim() == 4 && g.dh == 1 && g.dw == 1;
}
int64_t poolOut(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1) { return (in + p0 + p1 - k) / s + 1; }

at::Tensor maxPoolNhwc(const at::Tensor& xin, const std::vector<int64_t>& k, const Geo& g) {
  at::Tensor x = xin.contiguous();
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t kh = k[0], kw = k[1], sh = g.sh, sw = g.sw, pt = g.pt, pl = g.pl;
  const int64_t OH = poolOut(H, kh, sh, pt, g.pb), OW = poolOut(W, kw, sw, pl, g.pr);
  at::Tensor y = at::empty({B, OH, OW, C}, x.options());
  const float* __restrict xp = x.data_ptr<float>();
  float* __restrict yp = y.data_ptr<float>();
  at::parallel_for(0, B * OH, 16, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const int64_t h0 = oh * sh - pt, hs = std::max<int64_t>(h0, 0), he = std::min<int64_t>(h0 + kh, H);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * sw - pl, ws = std::max<int64_t>(w0, 0), we = std::min<int64_t>(w0 + kw, W);
        float* __restrict out = yp + (r * OW + ow) * C;
        const float* __restrict first = xp + ((b * H + hs) * W + ws) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = first[c];
        for (int64_t ih = hs; ih < he; ++ih)
          for (int64_t iw = ws; iw < we; ++iw) {
            const float* __restrict in = xp + ((b * H + ih) * W + iw) * C;
            for (int64_t c = 0; c < C; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
          }
      }
    }
  });
  return y;
}

at::Tensor maxPoolGradNhwc(const at::Tensor& dyin, const at::Tensor& xin, const std::vector<int64_t>& k, const Geo& g) {
  at::Tensor x = xin.contiguous(), dy = dyin.contiguous().to(at::kFloat);
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), OH = dy.size(1), OW = dy.size(2);
  const int64_t kh = k[0], kw = k[1], sh = g.sh, sw = g.sw, pt = g.pt, pl = g.pl;
  at::Tensor dx = at::zeros_like(x);
  const float* __restrict xp = x.data_ptr<float>();
  const float* __restrict dyp = dy.data_ptr<float>();
  float* __restrict dxp = dx.data_ptr<float>();
  // One batch element per task: windows of different images never overlap.
  at::parallel_for(0, B, 1, [=](int64_t begin, int64_t end) {
    std::vector<float> bestBuf(C);
    std::vector<int32_t> whereBuf(C);  // cell offset within the image
    float* __restrict best = bestBuf.data();
    int32_t* __restrict where = whereBuf.data();
    for (int64_t b = begin; b < end; ++b) {
      const float* __restrict img = xp + b * H * W * C;
      float* __restrict dimg = dxp + b * H * W * C;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = oh * sh - pt, hs = std::max<int64_t>(h0, 0), he = std::min<int64_t>(h0 + kh, H);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = ow * sw - pl, ws = std::max<int64_t>(w0, 0), we = std::min<int64_t>(w0 + kw, W);
          // Start from the window's first cell; later cells win only when strictly greater.
          const int32_t first = static_cast<int32_t>((hs * W + ws) * C);
          for (int64_t c = 0; c < C; ++c) { best[c] = img[first + c]; where[c] = first + static_cast<int32_t>(c); }
          for (int64_t ih = hs; ih < he; ++ih)
            for (int64_t iw = ws; iw < we; ++iw) {
              const int32_t off = static_cast<int32_t>((ih * W + iw) * C);
              for (int64_t c = 0; c < C; ++c) {
                // Branch-free (random data mispredicts half of the comparisons).
                const float v = img[off + c];
                const int32_t take = -static_cast<int32_t>(v > best[c]);
                best[c] = std::max(v, best[c]);
                where[c] ^= (where[c] ^ (off + static_cast<int32_t>(c))) & take;
              }
            }
          const float* __restrict g1 = dyp + ((b * OH + oh) * OW + ow) * C;
          for (int64_t c = 0; c < C; ++c) dimg[where[c]] += g1[c];
        }
      }
    }
  });
  return dx;
}

FN(pool)
  bool isMax = info[0].As<Napi::Boolean>().Value();
  auto k = ints(info[2]);
  Geo g = geo(info[3]);
  if (isMax && nhwcMaxPoolApplies(get(info[1]), g)) return result(env, maxPoolNhwc(get(info[1]), k, g));
  at::Tensor x = nchw(get(info[1])).contiguous(at::MemoryFormat::ChannelsLast);
  return result(env, nhwc(isMax ? maxPool(x, k, g) : avgPool(x, k, g)));
END

// Gradient of a pool (isMax, dy, x, [kh, kw], geometry): max pools by the NHWC kernel above, the
// rest by autograd through the same forward.
FN(poolGrad)
  bool isMax = info[0].As<Napi::Boolean>().Value();
  auto k = ints(info[3]);
  Geo g = geo(info[4]);
  if (isMax && nhwcMaxPoolApplies(get(info[2]), g)) return result(env, maxPoolGradNhwc(get(info[1]), get(info[2]), k, g));
  at::Tensor dy = nchw(get(info[1]));
  at::Tensor x = nchw(get(info[2])).contiguous(at::MemoryFormat::ChannelsLast).detach().requires_grad_(true);
  // TensorFlow.js' AvgPoolGrad spreads dy evenly over the whole window, padding included.
  at::Tensor y = isMax ? maxPool(x, k, g) : at::avg_pool2d(padNchw(x, g), {k[0], k[1]}, {g.sh, g.sw}, {0, 0}, false, true);
  auto dx = torch::autograd::grad({y}, {x}, {dy.contiguous(at::MemoryFormat::ChannelsLast)});
  return result(env, nhwc(dx[0]));
END

// ---- normalization ----

// A tensor argument that may be absent (handle 0).
at::Tensor optional(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value() ? get(v) : at::Tensor(); }

FN(batchNorm)
  // (x, mean, variance, offset|0, scale|0, eps) — broadcasting over the last axis.
  const at::Tensor& x = get(info[0]);
  at::Tensor y = (x - get(info[1])) * at::rsqrt(get(info[2]) + num(info, 5));
  if (i64(info, 4)) y = y * get(info[4]);
  if (i64(info, 3)) y = y + get(info[3]);
  return result(env, y);
END

// Training-mode batch norm over N, H, W of an NHWC tensor: (x, gamma, beta, eps[, runningMean,
// runningVar, momentum]) -> [y, mean, invstd(, runningMean', runningVar')]. The running statistics
// follow PyTorch (momentum-weighted, unbiased variance) and come back as new tensors: the inputs,
// which tfjs treats as immutable, are not written.
FN(batchNormTrain)
  at::Tensor x = nchw(get(info[0])).contiguous(at::MemoryFormat::ChannelsLast);
  const double eps = num(info, 3);
  if (info.Length() < 7) {
    auto r = at::native_batch_norm(x, get(info[1]), get(info[2]), c10::nullopt, c10::nullopt, true, 0.0, eps);
    return results(env, {nhwc(std::get<0>(r)), std::get<1>(r), std::get<2>(r)});
  }
  at::Tensor rm = get(info[4]).clone(), rv = get(info[5]).clone();
  const double momentum = num(info, 6);
  const int64_t n = x.numel() / std::max<int64_t>(x.size(1), 1);
  // One value per channel has no unbiased variance (PyTorch would divide by zero): its variance counts as 0.
  auto r = at::native_batch_norm(x, get(info[1]), get(info[2]), n > 1 ? c10::optional<at::Tensor>(rm) : c10::nullopt, n > 1 ? c10::optional<at::Tensor>(rv) : c10::nullopt, true, momentum, eps);
  if (n <= 1) {
    rm.mul_(1 - momentum).add_(std::get<1>(r), momentum);
    rv.mul_(1 - momentum);
  }
  return results(env, {nhwc(std::get<0>(r)), std::get<1>(r), std::get<2>(r), rm, rv});
END

// Its gradient: (dy, x, gamma, mean, invstd, eps) -> [dx, dgamma, dbeta].
FN(batchNormTrainGrad)
  at::Tensor dy = nchw(get(info[0])).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor x = nchw(get(info[1])).contiguous(at::MemoryFormat::ChannelsLast);
  auto r = at::native_batch_norm_backward(dy, x, get(info[2]), c10::nullopt, c10::nullopt, get(info[3]), get(info[4]), true, num(info, 5), {true, true, true});
  return results(env, {nhwc(std::get<0>(r)), std::get<1>(r), std::get<2>(r)});
END

// relu(batch norm (+ residual)) in training (norm.cc): (x, gamma, beta, eps, residual|0[, runningMean,
// runningVar, momentum]) -> [y, mean, invstd(, runningMean', runningVar')].
FN(batchNormRelu)
  at::Tensor none;
  const bool running = info.Length() >= 8;
  return results(env, polynas::batchNormRelu(get(info[0]), get(info[1]), get(info[2]), optional(info[4]), running ? get(info[5]) : none,
                                             running ? get(info[6]) : none, num(info, 3), running ? num(info, 7) : 0.0));
END

// Its gradient: (dy, x, y with a residual | 0, gamma, beta, mean, invstd) -> [dx, dgamma, dbeta(, dresidual)].
FN(batchNormReluGrad)
  return results(env, polynas::batchNormReluGrad(get(info[0]), get(info[1]), optional(info[2]), get(info[3]), get(info[4]), get(info[5]), get(info[6])));
END

// dy where x > 0, else 0: (dy, x).
FN(reluGrad)
  return result(env, at::threshold_backward(get(info[0]), get(info[1]), 0));
END

// ---- mask gate over a channel-wise polynomial (gate.cc) ----

polynas::PolyAttrs polyAttrs(const Napi::CallbackInfo& info, size_t i) { return {num(info, i), num(info, i + 1)}; }

// (x, mask handle or 0, coeffs, scale, clip) -> y
FN(maskedPoly)
  return result(env, polynas::maskedPoly(get(info[0]), optional(info[1]), get(info[2]), polyAttrs(info, 3)));
END

// (dy, x, mask handle or 0, coeffs, scale, clip) -> [dx, dmask, dcoeffs]
FN(maskedPolyGrad)
  return results(env, polynas::maskedPolyGrad(get(info[0]), get(info[1]), optional(info[2]), get(info[3]), polyAttrs(info, 4)));
END

// AutoReP's hysteresis mask update (gate.cc): (mask, alpha, t − c, t + c) -> mask'.
FN(hysteresisMask)
  return result(env, polynas::hysteresisMask(get(info[0]), get(info[1]), num(info, 2), num(info, 3)));
END

// ---- optimizer updates: one call per step for every parameter ----

// The tensors behind an array of handles.
std::vector<at::Tensor> tensors(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(get(a.Get(i)));
  return out;
}

// Every parameter's SGD update in one call (optim.cc):
// ([param], [grad], [buf], lr, momentum, weightDecay, nesterov) -> [param'..., buf'...].
FN(sgdSteps)
  return results(env, polynas::sgdSteps(tensors(info[0]), tensors(info[1]), tensors(info[2]), num(info, 3), num(info, 4), num(info, 5), info[6].As<Napi::Boolean>().Value()));
END

// Every parameter's Adam update in one call (optim.cc):
// ([param], [grad], [m], [v], lr, beta1, beta2, eps, weightDecay, decoupled, c1, c2) -> [param'..., m'..., v'...].
FN(adamSteps)
  polynas::AdamAttrs a{num(info, 4), num(info, 5), num(info, 6), num(info, 7), num(info, 8), info[9].As<Napi::Boolean>().Value(), num(info, 10), num(info, 11)};
  return results(env, polynas::adamSteps(tensors(info[0]), tensors(info[1]), tensors(info[2]), tensors(info[3]), a));
END


}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  at::init_num_threads();
  // glibc returns large freed buffers to the kernel at once (mmap threshold, heap trimming), so a
  // training step page-faults its activations back in every time. Keep them in the heap unless
  // POLYNAS_TORCH_MALLOC_TUNE=0.
  const char* tune = std::getenv("POLYNAS_TORCH_MALLOC_TUNE");
  if (!tune || std::string(tune) != "0") {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  }
  // The functions' signatures, checked by src/engine/torch.ts: raise it with any change to them.
  exports.Set("apiVersion", Napi::Number::New(env, 3));
#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, fn_##name))
  EXPORT(sgdSteps); EXPORT(adamSteps);
  EXPORT(write); EXPORT(read); EXPORT(dispose); EXPORT(stats); EXPORT(setThreads); EXPORT(info); EXPORT(rowThreads);
  EXPORT(unary); EXPORT(binary); EXPORT(addN); EXPORT(select); EXPORT(clip); EXPORT(cast);
  EXPORT(reduce); EXPORT(argMinMax); EXPORT(softmax); EXPORT(logSoftmax); EXPORT(topk);
  EXPORT(reshape); EXPORT(transpose); EXPORT(slice); EXPORT(pad); EXPORT(concat); EXPORT(stack);
  EXPORT(unstack); EXPORT(tile); EXPORT(reverse); EXPORT(fill); EXPORT(gather); EXPORT(oneHot);
  EXPORT(matmul); EXPORT(conv2d); EXPORT(conv2dInputGrad); EXPORT(conv2dFilterGrad); EXPORT(pool); EXPORT(poolGrad);
  EXPORT(maskedPoly); EXPORT(maskedPolyGrad); EXPORT(hysteresisMask);
  EXPORT(batchNorm); EXPORT(batchNormTrain); EXPORT(batchNormTrainGrad); EXPORT(batchNormRelu); EXPORT(batchNormReluGrad); EXPORT(reluGrad);
#undef EXPORT
  return exports;
}

NODE_API_MODULE(polynas_torch, Init)
