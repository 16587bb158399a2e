#include "keel/kernels/gemm.h"

#include <omp.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "keel/core/error.h"
#include "keel/kernels/bf16.h"
#include "keel/kernels/matvec.h"

namespace keel {

namespace {

// What runs after the product, inside the primitive: nothing, or bias then an activation.
enum class Epilogue { kNone, kBias, kBiasElu };

using dt = dnnl::memory::data_type;
// The last field is the type of A and B (f32, or bf16 for gemm_bf16); C is always f32.
using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool, bool, Epilogue, int, dt>;

struct CachedMatmul {
  dnnl::matmul primitive;
  dnnl::memory a, b, c, bias;  // user-pointer memories; the handle is rebound on every call
  std::string implementation;  // oneDNN's impl_info_str, for the bf16 tests
};

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, CachedMatmul> cache;
};

// One context per calling thread: no locking, and memory objects are never shared between threads.
Context& context() {
  thread_local Context ctx;
  return ctx;
}

CachedMatmul& get_matmul(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
                         bool accumulate, Epilogue epilogue = Epilogue::kNone,
                         dt operand_type = dt::f32) {
  Context& ctx = context();
  const Key key{m, n, k, trans_a, trans_b, accumulate, epilogue, omp_get_max_threads(), operand_type};
  auto it = ctx.cache.find(key);
  if (it != ctx.cache.end()) return it->second;

  using dims = dnnl::memory::dims;
  // Row-major (m, k) has strides (k, 1); its transpose stored as (k, m) has strides (1, m).
  const dnnl::memory::desc a_md(dims{m, k}, operand_type, trans_a ? dims{1, m} : dims{k, 1});
  const dnnl::memory::desc b_md(dims{k, n}, operand_type, trans_b ? dims{1, k} : dims{n, 1});
  const dnnl::memory::desc c_md(dims{m, n}, dt::f32, dims{n, 1});
  const dnnl::memory::desc bias_md(dims{1, n}, dt::f32, dims{n, 1});
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  // The sum post-op reads the old C before writing: C = A·B + 1.0*C (beta = 1).
  if (accumulate) ops.append_sum(1.0f);
  // ELU (alpha 1) on the output tile while it is still in registers/L1: no separate pass.
  if (epilogue == Epilogue::kBiasElu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_elu, 1.0f, 0.0f);
  attr.set_post_ops(ops);
  const bool bias = epilogue != Epilogue::kNone;
  const dnnl::matmul::primitive_desc pd(
      bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md),
      attr, ctx.engine);
  CachedMatmul entry{dnnl::matmul(pd), dnnl::memory(a_md, ctx.engine, nullptr),
                     dnnl::memory(b_md, ctx.engine, nullptr),
                     dnnl::memory(c_md, ctx.engine, nullptr),
                     dnnl::memory(bias_md, ctx.engine, nullptr), pd.impl_info_str()};
  return ctx.cache.emplace(key, std::move(entry)).first->second;
}

// Products with one row of A (single-sample predict) go to matvec instead of oneDNN: a oneDNN
// matmul call has a fixed cost of several µs (argument map, stream, thread team), which dominates
// a single-sample predict. Only m == 1: matvec rounds differently from oneDNN, and predict must
// give a sample the same bits whatever its batch companions (fit_test), so batches stay on oneDNN.
constexpr int64_t kSmallM = 1;

void execute(CachedMatmul& mm, const void* a, const void* b, float* c) {
  mm.a.set_data_handle(const_cast<void*>(a));
  mm.b.set_data_handle(const_cast<void*>(b));
  mm.c.set_data_handle(c);
  Context& ctx = context();
  // The C entry point with a stack array: the C++ execute() builds an unordered_map and a vector
  // on every call, i.e. heap allocations inside every training step.
  const dnnl_exec_arg_t args[3] = {
      {DNNL_ARG_SRC, mm.a.get()}, {DNNL_ARG_WEIGHTS, mm.b.get()}, {DNNL_ARG_DST, mm.c.get()}};
  dnnl_primitive_execute(mm.primitive.get(), ctx.stream.get(), 3, args);
  dnnl_stream_wait(ctx.stream.get());
}

// The empty products: nothing to do, or C = 0 (k == 0). True when handled.
bool empty_product(float* c, int64_t m, int64_t n, int64_t k, bool accumulate) {
  if (m == 0 || n == 0) return true;
  if (k != 0) return false;
  if (!accumulate) std::memset(c, 0, static_cast<size_t>(m * n) * sizeof(float));
  return true;
}

}  // namespace

void gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, bool accumulate) {
  if (empty_product(c, m, n, k, accumulate)) return;
  if (m <= kSmallM && !trans_a && !trans_b) return matvec(a, b, c, k, n, accumulate);
  execute(get_matmul(m, n, k, trans_a, trans_b, accumulate), a, b, c);
}

void gemm_bf16(const uint16_t* a, const uint16_t* b, float* c, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, bool accumulate) {
  if (empty_product(c, m, n, k, accumulate)) return;
  switch (bf16_kernels()) {
    case Bf16Kernels::kNative:
      execute(get_matmul(m, n, k, trans_a, trans_b, accumulate, Epilogue::kNone, dt::bf16), a, b, c);
      return;
    case Bf16Kernels::kEmulated: {
      // Widened copies, reused across calls (they only grow).
      thread_local std::vector<float> wide_a, wide_b;
      wide_a.resize(static_cast<size_t>(m * k));
      wide_b.resize(static_cast<size_t>(k * n));
      from_bf16(a, wide_a.data(), m * k);
      from_bf16(b, wide_b.data(), k * n);
      gemm(wide_a.data(), wide_b.data(), c, m, n, k, trans_a, trans_b, accumulate);
      return;
    }
    case Bf16Kernels::kNone:
      break;
  }
  throw Error("gemm_bf16: no bf16 kernels on this machine (bf16_kernels() is kNone); compute in "
              "float32 instead");
}

std::string gemm_bf16_implementation(int64_t m, int64_t n, int64_t k) {
  if (bf16_kernels() != Bf16Kernels::kNative) return "";
  return get_matmul(m, n, k, false, false, false, Epilogue::kNone, dt::bf16).implementation;
}

bool gemm_bias_activation(const float* x, const float* w, const float* bias, float* y, int64_t m,
                          int64_t n, int64_t k, ActivationKind kind) {
  if (m <= kSmallM || n == 0 || k == 0 || bias == nullptr) return false;
  Epilogue epilogue;
  if (kind == ActivationKind::kElu) epilogue = Epilogue::kBiasElu;
  else if (kind == ActivationKind::kLinear) epilogue = Epilogue::kBias;
  else return false;
  CachedMatmul& mm = get_matmul(m, n, k, false, false, false, epilogue);
  mm.a.set_data_handle(const_cast<float*>(x));
  mm.b.set_data_handle(const_cast<float*>(w));
  mm.c.set_data_handle(y);
  mm.bias.set_data_handle(const_cast<float*>(bias));
  Context& ctx = context();
  const dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mm.a.get()},
                                   {DNNL_ARG_WEIGHTS, mm.b.get()},
                                   {DNNL_ARG_BIAS, mm.bias.get()},
                                   {DNNL_ARG_DST, mm.c.get()}};
  dnnl_primitive_execute(mm.primitive.get(), ctx.stream.get(), 4, args);
  dnnl_stream_wait(ctx.stream.get());
  return true;
}

void gemm_ref(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * m + i] : a[i * k + p];
        const float bv = trans_b ? b[j * k + p] : b[p * n + j];
        sum += static_cast<double>(av) * bv;
      }
      c[i * n + j] = static_cast<float>(accumulate ? c[i * n + j] + sum : sum);
    }
  }
}

int64_t gemm_cache_size() { return static_cast<int64_t>(context().cache.size()); }

}  // namespace keel
