#include "keel/kernels/gemm.h"

#include <omp.h>

#include <cstring>
#include <map>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "keel/kernels/matvec.h"

namespace keel {

namespace {

// What runs after the product, inside the primitive: nothing, or bias then an activation.
enum class Epilogue { kNone, kBias, kBiasElu };

using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool, bool, Epilogue, int>;

struct CachedMatmul {
  dnnl::matmul primitive;
  dnnl::memory a, b, c, bias;  // user-pointer memories; the handle is rebound on every call
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
                         bool accumulate, Epilogue epilogue = Epilogue::kNone) {
  Context& ctx = context();
  const Key key{m, n, k, trans_a, trans_b, accumulate, epilogue, omp_get_max_threads()};
  auto it = ctx.cache.find(key);
  if (it != ctx.cache.end()) return it->second;

  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  // Row-major (m, k) has strides (k, 1); its transpose stored as (k, m) has strides (1, m).
  const dnnl::memory::desc a_md(dims{m, k}, dt::f32, trans_a ? dims{1, m} : dims{k, 1});
  const dnnl::memory::desc b_md(dims{k, n}, dt::f32, trans_b ? dims{1, k} : dims{n, 1});
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
                     dnnl::memory(bias_md, ctx.engine, nullptr)};
  return ctx.cache.emplace(key, std::move(entry)).first->second;
}

// Products with one row of A (single-sample predict) go to matvec instead of oneDNN: a oneDNN
// matmul call has a fixed cost of several µs (argument map, stream, thread team), which dominates
// a single-sample predict. Only m == 1: matvec rounds differently from oneDNN, and predict must
// give a sample the same bits whatever its batch companions (fit_test), so batches stay on oneDNN.
constexpr int64_t kSmallM = 1;

}  // namespace

void gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) std::memset(c, 0, static_cast<size_t>(m * n) * sizeof(float));
    return;
  }
  if (m <= kSmallM && !trans_a && !trans_b) return matvec(a, b, c, k, n, accumulate);
  CachedMatmul& mm = get_matmul(m, n, k, trans_a, trans_b, accumulate);
  mm.a.set_data_handle(const_cast<float*>(a));
  mm.b.set_data_handle(const_cast<float*>(b));
  mm.c.set_data_handle(c);
  Context& ctx = context();
  // The C entry point with a stack array: the C++ execute() builds an unordered_map and a vector
  // on every call, i.e. heap allocations inside every training step.
  const dnnl_exec_arg_t args[3] = {
      {DNNL_ARG_SRC, mm.a.get()}, {DNNL_ARG_WEIGHTS, mm.b.get()}, {DNNL_ARG_DST, mm.c.get()}};
  dnnl_primitive_execute(mm.primitive.get(), ctx.stream.get(), 3, args);
  dnnl_stream_wait(ctx.stream.get());
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
