#include "keel/kernels/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

namespace keel {

namespace {
// Channel block of the (N, C) path: the block's double accumulators fit in vector registers, and
// the inner loop runs over contiguous channels of one row. Blocks are the unit of parallel work.
constexpr int64_t kBlock = 64;


// Channels [c0, c0 + w) of the (N, C) layout: two passes over the rows, double accumulators
// (8 channels per vector of doubles; lanes past w load 0 and are never written back).
// kGroups = ceil(w / 16) is a template constant so every loop over the vectors has a constant trip
// count, the compiler unrolls it and the accumulators stay in registers (with a runtime count they
// live on the stack and every row pays a store-to-load round trip per vector). stats_block passes
// w as a literal for whole groups, so the tail checks fold away too.
template <int kGroups>
KEEL_SIMD_INLINE void stats_block_body(const float* x, float* mean, float* var, int64_t outer,
                                       int64_t channels, int64_t c0, int64_t w, double inv_n) {
  using namespace simd;
  constexpr int64_t kVecs = 2 * kGroups;
  f64x8 sum[kVecs] = {}, sq[kVecs] = {};
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = x + r * channels + c0;
#pragma GCC unroll 8
    for (int64_t v = 0; v < kVecs; ++v) sum[v] += load_f64_upto(row, v * 8, w);
  }
#pragma GCC unroll 8
  for (int64_t v = 0; v < kVecs; ++v) sum[v] *= inv_n;  // now the mean
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = x + r * channels + c0;
#pragma GCC unroll 8
    for (int64_t v = 0; v < kVecs; ++v) {
      const f64x8 d = load_f64_upto(row, v * 8, w) - sum[v];
      sq[v] += d * d;
    }
  }
  for (int64_t j = 0; j < w; ++j) {
    mean[c0 + j] = static_cast<float>(sum[j / 8][j % 8]);
    var[c0 + j] = static_cast<float>(sq[j / 8][j % 8] * inv_n);
  }
}

static_assert(kBlock == 4 * simd::kLanes, "the block dispatches below handle 1 to 4 groups of 16");

KEEL_MULTIVERSION void stats_block(const float* x, float* mean, float* var, int64_t outer,
                                   int64_t channels, int64_t c0, int64_t w, double inv_n) {
#define KEEL_STATS(G, W) return stats_block_body<G>(x, mean, var, outer, channels, c0, W, inv_n)
  KEEL_FOR_VECTOR_COUNT(w, KEEL_STATS)
#undef KEEL_STATS
}

// Rows of y = x·scale + shift, (rows, channels) layout; with `relu`, max(that, 0) as
// activation_forward's relu writes it (the plan's BN + ReLU fusion), so the bits are the same as
// the two passes.
KEEL_MULTIVERSION void apply_rows(const float* x, const float* scale, const float* shift, float* y,
                                  int64_t rows, int64_t channels, bool relu) {
  using namespace simd;
  const f32x16 zero = {};
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    int64_t c = 0;
    for (; c + kLanes <= channels; c += kLanes) {
      const f32x16 v = load(xr + c) * load(scale + c) + load(shift + c);
      store(yr + c, relu ? (v > 0.0f ? v : zero) : v);
    }
    for (; c < channels; ++c) {
      const float v = xr[c] * scale[c] + shift[c];
      yr[c] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

// Few channels (a CNN's NHWC activations: 32 or 64 channels, 50,000 rows at batch 64): channel
// blocks of 16 gave each of two threads half of every row's 128 bytes, and the statistics ran no
// faster on two threads than on one. These reductions go by fixed chunks of kRowChunk rows
// instead, each reduced into its own partial sums, which are then added in chunk order: the same
// bits whatever the thread count. Chunks of 256 rows of 64 channels are 64 KB.
constexpr int64_t kRowChunk = 256;

int64_t row_chunks(int64_t rows) { return (rows + kRowChunk - 1) / kRowChunk; }

// Over `rows` rows of one chunk (row stride w <= kBlock): sum[0, w) = Σ x and m2[0, w) =
// Σ (x - chunk mean)², in double as stats_block_body. The second loop reads the chunk again while
// it is still in L1/L2, so the statistics cost one pass over memory instead of two.
template <int kGroups>
KEEL_SIMD_INLINE void chunk_moments_body(const float* x, int64_t rows, int64_t w, double* sum,
                                         double* m2) {
  using namespace simd;
  constexpr int64_t kVecs = 2 * kGroups;
  f64x8 acc[kVecs] = {}, mu[kVecs], sq[kVecs] = {};
  for (int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 8
    for (int64_t v = 0; v < kVecs; ++v) acc[v] += load_f64_upto(x + r * w, v * 8, w);
  }
  const double inv_rows = 1.0 / static_cast<double>(rows);
#pragma GCC unroll 8
  for (int64_t v = 0; v < kVecs; ++v) mu[v] = acc[v] * inv_rows;
  for (int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 8
    for (int64_t v = 0; v < kVecs; ++v) {
      const f64x8 d = load_f64_upto(x + r * w, v * 8, w) - mu[v];
      sq[v] += d * d;
    }
  }
  for (int64_t j = 0; j < w; ++j) sum[j] = acc[j / 8][j % 8], m2[j] = sq[j / 8][j % 8];
}
KEEL_MULTIVERSION void chunk_moments(const float* x, int64_t rows, int64_t w, double* sum,
                                     double* m2) {
#define KEEL_CHUNK(G, W) return chunk_moments_body<G>(x, rows, W, sum, m2)
  KEEL_FOR_VECTOR_COUNT(w, KEEL_CHUNK)
#undef KEEL_CHUNK
}

// f(chunk, first row, rows) for the row chunks `chunks` of `outer` rows.
template <typename F>
void run_row_chunks(Range chunks, int64_t outer, const F& f) {
  for (int64_t c = chunks.begin; c < chunks.end; ++c) {
    f(c, c * kRowChunk, std::min(kRowChunk, outer - c * kRowChunk));
  }
}
// The same for every chunk, spread over the team when `parallel` (on one thread without an OpenMP
// region: entering even an inactive one costs).
template <typename F>
void for_each_row_chunk(int64_t outer, bool parallel, const F& f) {
  const int64_t chunks = row_chunks(outer);
  if (!parallel) return run_row_chunks({0, chunks}, outer, f);
#pragma omp parallel
  run_row_chunks(thread_share(chunks, 1), outer, f);
}

// f(chunk, first row, rows) for every row chunk of `outer` rows, the chunks spread over the team
// when `parallel`, then finish() once, after every chunk is done, then f2 for every chunk again
// (each thread the same chunks as in the first pass). On one thread without an OpenMP region.
template <typename F, typename Finish, typename F2>
void two_chunk_passes(int64_t outer, bool parallel, const F& f, const Finish& finish,
                      const F2& f2) {
  const int64_t chunks = row_chunks(outer);
  if (!parallel) {
    run_row_chunks({0, chunks}, outer, f);
    finish();
    run_row_chunks({0, chunks}, outer, f2);
    return;
  }
#pragma omp parallel
  {
    const Range mine = thread_share(chunks, 1);
    run_row_chunks(mine, outer, f);
#pragma omp barrier
#pragma omp single
    finish();  // the implicit barrier of `single` publishes its results to the team
    run_row_chunks(mine, outer, f2);
  }
}

// Statistics of (outer, channels <= kBlock) by row chunks: each chunk's sum and squared deviations
// from its own mean (chunk_moments), then, in chunk order, the mean and the squared deviations
// from it by Chan et al.'s pairwise rule M2 = Σ_c [M2_c + n_c (mean_c - mean)²], which is exact:
// the variance of the two-pass formula, from one pass over memory.
void stats_by_row_chunks(const float* x, float* mean, float* var, int64_t outer, int64_t channels,
                         double inv_n, bool parallel) {
  const int64_t chunks = row_chunks(outer);
  thread_local std::vector<double> scratch;  // grows once per shape, then reused
  scratch.resize(size_t(2 * chunks * channels));
  // Raw pointers: inside the parallel region another thread's `scratch` is its own thread_local.
  double* sums = scratch.data();  // (chunks, channels)
  double* m2s = sums + chunks * channels;
  for_each_row_chunk(outer, parallel, [&](int64_t c, int64_t r0, int64_t rows) {
    chunk_moments(x + r0 * channels, rows, channels, sums + c * channels, m2s + c * channels);
  });
  for (int64_t j = 0; j < channels; ++j) {
    double total = 0.0;
    for (int64_t c = 0; c < chunks; ++c) total += sums[c * channels + j];
    const double m = total * inv_n;
    double m2 = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      const double rows = static_cast<double>(std::min(kRowChunk, outer - c * kRowChunk));
      const double d = sums[c * channels + j] / rows - m;
      m2 += m2s[c * channels + j] + rows * d * d;
    }
    mean[j] = static_cast<float>(m);
    var[j] = static_cast<float>(m2 * inv_n);
  }
}
}  // namespace

void batch_norm_stats(const float* x, float* mean, float* var, int64_t outer, int64_t channels,
                      int64_t inner) {
  const int64_t n = outer * inner;
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  if (inner == 1 && channels <= kBlock) {
    return stats_by_row_chunks(x, mean, var, outer, channels, inv_n, parallel);
  }
  if (inner == 1) {
    for_each_column_block(channels, kBlock, parallel, [&](int64_t c0, int64_t w) {
      stats_block(x, mean, var, outer, channels, c0, w, inv_n);
    });
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* __restrict p = x + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) sum += p[i];
    }
    const double m = sum * inv_n;
    double sq = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* __restrict p = x + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const double d = p[i] - m;
        sq += d * d;
      }
    }
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(sq * inv_n);
  }
}

void batch_norm_stats_ref(const float* x, float* mean, float* var, int64_t outer,
                          int64_t channels, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) sum += x[(o * channels + c) * inner + i];
    }
    const double m = n > 0 ? sum / static_cast<double>(n) : 0.0;
    double sq = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const double d = x[(o * channels + c) * inner + i] - m;
        sq += d * d;
      }
    }
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(n > 0 ? sq / static_cast<double>(n) : 0.0);
  }
}

namespace {
// One loop per (gamma?, beta?) so each vectorises (sqrt and divide are exact IEEE ops in every
// lane; with the null checks inside, GCC kept it scalar: ~1.2 µs of a ~12 µs predict).
template <bool kGamma, bool kBeta>
KEEL_SIMD_INLINE void scale_shift_loop(const float* __restrict mean, const float* __restrict var,
                                       const float* __restrict gamma, const float* __restrict beta,
                                       float epsilon, float* __restrict scale,
                                       float* __restrict shift, float* __restrict inv_std,
                                       int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    const float inv = 1.0f / std::sqrt(var[c] + epsilon);
    inv_std[c] = inv;
    const float k = kGamma ? inv * gamma[c] : inv;
    scale[c] = k;
    shift[c] = kBeta ? beta[c] - mean[c] * k : -(mean[c] * k);
  }
}

KEEL_MULTIVERSION void scale_shift(const float* mean, const float* var, const float* gamma,
                                   const float* beta, float epsilon, float* scale, float* shift,
                                   float* inv_std, int64_t channels) {
  if (gamma && beta) return scale_shift_loop<true, true>(mean, var, gamma, beta, epsilon, scale, shift, inv_std, channels);
  if (gamma) return scale_shift_loop<true, false>(mean, var, gamma, beta, epsilon, scale, shift, inv_std, channels);
  if (beta) return scale_shift_loop<false, true>(mean, var, gamma, beta, epsilon, scale, shift, inv_std, channels);
  scale_shift_loop<false, false>(mean, var, gamma, beta, epsilon, scale, shift, inv_std, channels);
}
}  // namespace

void batch_norm_scale_shift(const float* mean, const float* var, const float* gamma,
                            const float* beta, float epsilon, float* scale, float* shift,
                            float* inv_std, int64_t channels) {
  if (inv_std == nullptr) {
    // Rare (the layers always keep it): a scratch-free scalar loop.
    for (int64_t c = 0; c < channels; ++c) {
      float inv = 1.0f / std::sqrt(var[c] + epsilon);
      if (gamma != nullptr) inv *= gamma[c];
      scale[c] = inv;
      shift[c] = beta != nullptr ? beta[c] - mean[c] * inv : -(mean[c] * inv);
    }
    return;
  }
  scale_shift(mean, var, gamma, beta, epsilon, scale, shift, inv_std, channels);
}

void batch_norm_apply(const float* x, const float* scale, const float* shift, float* y,
                      int64_t outer, int64_t channels, int64_t inner, bool relu) {
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  if (inner == 1) {
    if (!parallel) return apply_rows(x, scale, shift, y, outer, channels, relu);
    // One call per thread over its rows: a call per row (32 channels in a CNN) paid the
    // multiversion dispatch and the loop set-up 50,000 times a pass.
#pragma omp parallel
    {
      const Range rows = thread_share(outer, 1);
      const int64_t at = rows.begin * channels;
      apply_rows(x + at, scale, shift, y + at, rows.end - rows.begin, channels, relu);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t oc = 0; oc < outer * channels; ++oc) {
    const int64_t c = oc % channels;
    const float s = scale[c], t = shift[c];
    const float* xp = x + oc * inner;
    float* yp = y + oc * inner;
    for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * s + t;
  }
  if (relu) activation_forward(ActivationKind::kRelu, y, y, outer * channels, inner);
}

void batch_norm_apply_ref(const float* x, const float* scale, const float* shift, float* y,
                          int64_t outer, int64_t channels, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (o * channels + c) * inner + i;
        y[idx] = x[idx] * scale[c] + shift[c];
      }
}

void batch_norm_moving_update(float* moving, const float* batch_stat, double momentum,
                              int64_t channels) {
  const auto decay = static_cast<float>(1.0 - momentum);
  for (int64_t c = 0; c < channels; ++c) moving[c] -= (moving[c] - batch_stat[c]) * decay;
}

void batch_norm_moving_update_fused(float* moving_mean, float* moving_var, const float* mean,
                                    const float* var, double momentum, int64_t n,
                                    int64_t channels) {
  const auto factor = static_cast<float>(1.0 - momentum);
  const float keep = 1.0f - factor;
  const float adjust = static_cast<float>(n) / static_cast<float>(std::max<int64_t>(n - 1, 1));
  for (int64_t c = 0; c < channels; ++c) {
    moving_mean[c] = moving_mean[c] * keep + mean[c] * factor;
    moving_var[c] = moving_var[c] * keep + var[c] * adjust * factor;
  }
}

namespace {
// Per-channel coefficients of dx = k_dy·dy + k_xm·(x - μ) + k_c, from s1 = Σdy, s2 = Σdy·(x-μ).
// (x - μ) is formed in float first: for a large mean, k_x·x + const would cancel catastrophically.
struct BackwardCoefficients {
  float k_dy, k_xm, k_c;
};
BackwardCoefficients coefficients(double s1, double s2, double inv_n, float r, float g) {
  const double gr = static_cast<double>(g) * r;
  return {static_cast<float>(gr), static_cast<float>(-gr * r * r * s2 * inv_n),
          static_cast<float>(-gr * s1 * inv_n)};
}

// Channels [c0, c0 + w) of the (N, C) backward: the two sums in double (16 channels per float
// vector, two vectors of doubles per sum; lanes past w are 0 and never written back), then dgamma,
// dbeta and, when k != nullptr, the dx coefficients of each channel into k (3 arrays of `channels`).
// kGroups = ceil(w / 16) as in stats_block_body.
template <int kGroups>
KEEL_SIMD_INLINE void backward_sums_body(const float* x, const float* dy, const float* mean,
                                         const float* inv_std, const float* gamma, float* dgamma,
                                         float* dbeta, float* k, int64_t outer, int64_t channels,
                                         int64_t c0, int64_t w, double inv_n) {
  using namespace simd;
  f32x16 mu[kGroups] = {};
#pragma GCC unroll 4
  for (int64_t v = 0; v < kGroups; ++v) mu[v] = load_upto(mean + c0, v * kLanes, w);
  f64x8 s1[2 * kGroups] = {}, s2[2 * kGroups] = {};
  for (int64_t r = 0; r < outer; ++r) {
    const float* xr = x + r * channels + c0;
    const float* dyr = dy + r * channels + c0;
#pragma GCC unroll 4
    for (int64_t v = 0; v < kGroups; ++v) {
      const f32x16 g = load_upto(dyr, v * kLanes, w);
      const f32x16 xm = load_upto(xr, v * kLanes, w) - mu[v];  // in float first, as documented above
      s1[2 * v] += low_f64(g);
      s1[2 * v + 1] += high_f64(g);
      s2[2 * v] += low_f64(g) * low_f64(xm);
      s2[2 * v + 1] += high_f64(g) * high_f64(xm);
    }
  }
  for (int64_t j = 0; j < w; ++j) {
    const double sum1 = s1[j / 8][j % 8], sum2 = s2[j / 8][j % 8];
    const float r = inv_std[c0 + j];
    if (dgamma != nullptr) dgamma[c0 + j] += static_cast<float>(sum2 * r);
    if (dbeta != nullptr) dbeta[c0 + j] += static_cast<float>(sum1);
    if (k == nullptr) continue;
    const auto kc = coefficients(sum1, sum2, inv_n, r, gamma ? gamma[c0 + j] : 1.0f);
    k[c0 + j] = kc.k_dy, k[channels + c0 + j] = kc.k_xm, k[2 * channels + c0 + j] = kc.k_c;
  }
}
KEEL_MULTIVERSION void backward_sums_block(const float* x, const float* dy, const float* mean,
                                           const float* inv_std, const float* gamma, float* dgamma,
                                           float* dbeta, float* k, int64_t outer, int64_t channels,
                                           int64_t c0, int64_t w, double inv_n) {
#define KEEL_SUMS(G, W)                                                                          \
  return backward_sums_body<G>(x, dy, mean, inv_std, gamma, dgamma, dbeta, k, outer, channels, c0, \
                               W, inv_n)
  KEEL_FOR_VECTOR_COUNT(w, KEEL_SUMS)
#undef KEEL_SUMS
}

// The gradient reaching the BN output through a fused ReLU: dy where the ReLU's output is > 0, 0
// elsewhere, as activation_backward's relu. The mask is recomputed from x as the forward computed
// the value it clamped (x·scale + shift, the same expression as apply_rows, so the same rounding),
// which saves reading the ReLU's output. Without kRelu, dy itself.
template <bool kRelu>
KEEL_SIMD_INLINE simd::f32x16 relu_dy(simd::f32x16 dy, simd::f32x16 x, simd::f32x16 scale,
                                      simd::f32x16 shift) {
  if constexpr (!kRelu) {
    return dy;
  } else {
    const simd::f32x16 zero = {};
    const simd::f32x16 v = x * scale + shift;
    return v > 0.0f ? dy : zero;
  }
}

// The scale and shift of the forward a fused ReLU followed (row-chunk kernels), or nulls.
struct ReluAffine {
  const float* scale = nullptr;
  const float* shift = nullptr;
};

// dx = k_dy·dy + k_xm·(x - μ) + k_c over `rows` rows of w <= kBlock channels at row stride
// `stride`; the pointers are offset to the first channel (k_* as backward_sums_body wrote them).
// The block's coefficients stay in registers across the rows (kGroups as in stats_block_body).
// With kRelu, dy is first masked where the fused ReLU's output is 0 (relu_dy above).
template <int kGroups, bool kRelu>
KEEL_SIMD_INLINE void backward_dx_body(const float* x, const float* dy, ReluAffine relu,
                                       const float* mean, const float* k_dy, const float* k_xm,
                                       const float* k_c, float* dx, int64_t rows, int64_t w,
                                       int64_t stride) {
  using namespace simd;
  f32x16 mu[kGroups], a[kGroups], b[kGroups], c[kGroups], sc[kGroups] = {}, sh[kGroups] = {};
#pragma GCC unroll 4
  for (int64_t v = 0; v < kGroups; ++v) {
    mu[v] = load_upto(mean, v * kLanes, w);
    a[v] = load_upto(k_dy, v * kLanes, w);
    b[v] = load_upto(k_xm, v * kLanes, w);
    c[v] = load_upto(k_c, v * kLanes, w);
    if constexpr (kRelu) sc[v] = load_upto(relu.scale, v * kLanes, w), sh[v] = load_upto(relu.shift, v * kLanes, w);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * stride;
    const float* dyr = dy + r * stride;
    float* dxr = dx + r * stride;
#pragma GCC unroll 4
    for (int64_t v = 0; v < kGroups; ++v) {
      const int64_t j = v * kLanes;
      const f32x16 xv = load_upto(xr, j, w);
      const f32x16 g = relu_dy<kRelu>(load_upto(dyr, j, w), xv, sc[v], sh[v]);
      const f32x16 d = a[v] * g + b[v] * (xv - mu[v]) + c[v];
      if (j + kLanes <= w) store(dxr + j, d); else store_partial(dxr + j, d, w - j);
    }
  }
}
// s1[0, w) = Σ dy and s2[0, w) = Σ dy·(x - μ) over `rows` rows (row stride w <= kBlock), in double
// with (x - μ) in float, as backward_sums_body; dy masked as in backward_dx_body.
template <int kGroups, bool kRelu>
KEEL_SIMD_INLINE void chunk_backward_sums_body(const float* x, const float* dy, ReluAffine relu,
                                               const float* mean, int64_t rows, int64_t w,
                                               double* s1, double* s2) {
  using namespace simd;
  f32x16 mu[kGroups] = {}, sc[kGroups] = {}, sh[kGroups] = {};
#pragma GCC unroll 4
  for (int64_t v = 0; v < kGroups; ++v) {
    mu[v] = load_upto(mean, v * kLanes, w);
    if constexpr (kRelu) sc[v] = load_upto(relu.scale, v * kLanes, w), sh[v] = load_upto(relu.shift, v * kLanes, w);
  }
  f64x8 a[2 * kGroups] = {}, b[2 * kGroups] = {};
  for (int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 4
    for (int64_t v = 0; v < kGroups; ++v) {
      const f32x16 xv = load_upto(x + r * w, v * kLanes, w);
      const f32x16 g = relu_dy<kRelu>(load_upto(dy + r * w, v * kLanes, w), xv, sc[v], sh[v]);
      const f32x16 xm = xv - mu[v];
      a[2 * v] += low_f64(g);
      a[2 * v + 1] += high_f64(g);
      b[2 * v] += low_f64(g) * low_f64(xm);
      b[2 * v + 1] += high_f64(g) * high_f64(xm);
    }
  }
  for (int64_t j = 0; j < w; ++j) s1[j] = a[j / 8][j % 8], s2[j] = b[j / 8][j % 8];
}
KEEL_MULTIVERSION void chunk_backward_sums(const float* x, const float* dy, ReluAffine relu,
                                           const float* mean, int64_t rows, int64_t w, double* s1,
                                           double* s2) {
#define KEEL_CHUNK(G, W) return chunk_backward_sums_body<G, false>(x, dy, {}, mean, rows, W, s1, s2)
#define KEEL_CHUNK_RELU(G, W) return chunk_backward_sums_body<G, true>(x, dy, relu, mean, rows, W, s1, s2)
  if (relu.scale != nullptr) {
    KEEL_FOR_VECTOR_COUNT(w, KEEL_CHUNK_RELU)
  }
  KEEL_FOR_VECTOR_COUNT(w, KEEL_CHUNK)
#undef KEEL_CHUNK
#undef KEEL_CHUNK_RELU
}

KEEL_MULTIVERSION void backward_dx_block(const float* x, const float* dy, ReluAffine relu,
                                         const float* mean,
                                         const float* k_dy, const float* k_xm, const float* k_c,
                                         float* dx, int64_t rows, int64_t w, int64_t stride) {
#define KEEL_DX(G, W) \
  return backward_dx_body<G, false>(x, dy, {}, mean, k_dy, k_xm, k_c, dx, rows, W, stride)
#define KEEL_DX_RELU(G, W) \
  return backward_dx_body<G, true>(x, dy, relu, mean, k_dy, k_xm, k_c, dx, rows, W, stride)
  if (relu.scale != nullptr) {
    KEEL_FOR_VECTOR_COUNT(w, KEEL_DX_RELU)
  }
  KEEL_FOR_VECTOR_COUNT(w, KEEL_DX)
#undef KEEL_DX
#undef KEEL_DX_RELU
}
// The gradient rows of one chunk: dy itself, or (a fused max pooling) the pool's gradient
// expanded into a per-thread chunk buffer, 64 KB that stay in cache for the pass that reads them.
const float* chunk_dy(const float* dy, const FusedMaxPool& pool, int64_t r0, int64_t rows,
                      int64_t channels) {
  if (pool.argmax == nullptr) return dy + r0 * channels;
  thread_local std::vector<float> expanded;  // one per thread; grows once, then reused
  if (expanded.size() < size_t(kRowChunk * channels)) expanded.resize(size_t(kRowChunk * channels));
  max_pool2d_backward_rows(*pool.g, dy, pool.argmax, r0, rows, expanded.data());
  return expanded.data();
}

// The (outer, channels <= kBlock) backward by row chunks (see kRowChunk): the sums of each chunk,
// added in chunk order, then dx chunk by chunk.
void backward_by_row_chunks(const float* x, const float* dy, ReluAffine relu, FusedMaxPool pool,
                            const float* mean, const float* inv_std, const float* gamma, float* dx,
                            float* dgamma, float* dbeta, int64_t outer, int64_t channels,
                            double inv_n, bool parallel) {
  const int64_t chunks = row_chunks(outer);
  thread_local std::vector<double> scratch;  // grows once per shape, then reused
  thread_local std::vector<float> dx_coefficients;
  scratch.resize(size_t(2 * chunks * channels));
  dx_coefficients.resize(size_t(3 * channels));
  // Raw pointers: inside the parallel region another thread's thread_locals are its own.
  double* s1 = scratch.data();  // (chunks, channels) each
  double* s2 = s1 + chunks * channels;
  float* k = dx_coefficients.data();  // k_dy, k_xm, k_c: `channels` each
  two_chunk_passes(
      outer, parallel,
      [&](int64_t c, int64_t r0, int64_t rows) {
        chunk_backward_sums(x + r0 * channels, chunk_dy(dy, pool, r0, rows, channels), relu, mean,
                            rows, channels, s1 + c * channels, s2 + c * channels);
      },
      [&] {
        for (int64_t j = 0; j < channels; ++j) {
          double sum1 = 0.0, sum2 = 0.0;
          for (int64_t c = 0; c < chunks; ++c) sum1 += s1[c * channels + j], sum2 += s2[c * channels + j];
          const float r = inv_std[j];
          if (dgamma != nullptr) dgamma[j] += static_cast<float>(sum2 * r);
          if (dbeta != nullptr) dbeta[j] += static_cast<float>(sum1);
          const auto kc = coefficients(sum1, sum2, inv_n, r, gamma ? gamma[j] : 1.0f);
          k[j] = kc.k_dy, k[channels + j] = kc.k_xm, k[2 * channels + j] = kc.k_c;
        }
      },
      [&](int64_t, int64_t r0, int64_t rows) {
        if (dx == nullptr) return;
        const int64_t at = r0 * channels;
        backward_dx_block(x + at, chunk_dy(dy, pool, r0, rows, channels), relu, mean, k,
                          k + channels, k + 2 * channels, dx + at, rows, channels, channels);
      });
}
}  // namespace

bool batch_norm_fuses_max_pool(int64_t channels, int64_t inner) {
  return inner == 1 && channels <= kBlock;
}

void batch_norm_backward(const float* x, const float* dy, const float* mean, const float* inv_std,
                         const float* gamma, float* dx, float* dgamma, float* dbeta,
                         int64_t outer, int64_t channels, int64_t inner, const FusedRelu& relu,
                         const FusedMaxPool& pool) {
  const int64_t n = outer * inner;
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  const bool fused = relu.y != nullptr;
  KEEL_CHECK(pool.argmax == nullptr || (batch_norm_fuses_max_pool(channels, inner) && fused &&
                                        relu.scale != nullptr && pool.g != nullptr),
             "batch_norm_backward: a fused max pooling needs <= ", kBlock,
             " channels, inner 1 and the fused ReLU's scale and shift");
  if (inner == 1 && channels <= kBlock && (!fused || relu.scale != nullptr)) {
    const ReluAffine mask = fused ? ReluAffine{relu.scale, relu.shift} : ReluAffine{};
    return backward_by_row_chunks(x, dy, mask, pool, mean, inv_std, gamma, dx, dgamma, dbeta,
                                  outer, channels, inv_n, parallel);
  }
  if (fused) {
    // The other layouts take the masked gradient from a scratch copy: one more pass, where the
    // row-chunk kernels mask as they read.
    thread_local std::vector<float> masked;  // grows once per shape, then reused
    masked.resize(size_t(outer * channels * inner));
    activation_backward(ActivationKind::kRelu, relu.y, relu.y, dy, masked.data(), 1,
                        outer * channels * inner);
    return batch_norm_backward(x, masked.data(), mean, inv_std, gamma, dx, dgamma, dbeta, outer,
                               channels, inner);
  }
  if (inner == 1) {
    float* k = nullptr;  // the dx coefficients: k_dy, k_xm, k_c, `channels` each
    if (dx != nullptr) {
      thread_local std::vector<float> coefficients;  // grows once per shape, then reused
      if (coefficients.size() < static_cast<size_t>(3 * channels)) coefficients.resize(size_t(3 * channels));
      k = coefficients.data();
    }
    // The sums go by channel blocks. dx too, right after each block's sums while its rows are in
    // cache, on one thread or when each thread's columns start on a cache line in every row;
    // otherwise (300 channels: 1,200-byte rows) the team writes dx by rows after a barrier (see
    // for_each_column_block).
    const bool lines_per_block = column_blocks_own_their_lines(dx, channels, parallel);
    const auto dx_block = [&](int64_t c0, int64_t w, int64_t r0, int64_t rows) {
      const int64_t at = r0 * channels + c0;
      backward_dx_block(x + at, dy + at, {}, mean + c0, k + c0, k + channels + c0,
                        k + 2 * channels + c0, dx + at, rows, w, channels);
    };
#pragma omp parallel if (parallel)
    {
      for_each_block(thread_share(channels, kColumnGranule), kBlock, [&](int64_t c0, int64_t w) {
        backward_sums_block(x, dy, mean, inv_std, gamma, dgamma, dbeta, k, outer, channels, c0, w,
                            inv_n);
        if (dx != nullptr && lines_per_block) dx_block(c0, w, 0, outer);
      });
      if (dx != nullptr && !lines_per_block) {
#pragma omp barrier
        const Range rows = thread_share(outer, 1);
        for_each_block({0, channels}, kBlock, [&](int64_t c0, int64_t w) {
          dx_block(c0, w, rows.begin, rows.end - rows.begin);
        });
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < channels; ++c) {
    const float mu = mean[c], r = inv_std[c];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* __restrict xp = x + (o * channels + c) * inner;
      const float* __restrict dyp = dy + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        s1 += dyp[i];
        s2 += static_cast<double>(dyp[i]) * (xp[i] - mu);
      }
    }
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(s2 * r);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(s1);
    if (dx == nullptr) continue;
    const auto k = coefficients(s1, s2, inv_n, r, gamma ? gamma[c] : 1.0f);
    for (int64_t o = 0; o < outer; ++o) {
      const float* __restrict xp = x + (o * channels + c) * inner;
      const float* __restrict dyp = dy + (o * channels + c) * inner;
      float* __restrict dxp = dx + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) dxp[i] = k.k_dy * dyp[i] + k.k_xm * (xp[i] - mu) + k.k_c;
    }
  }
}

void batch_norm_backward_ref(const float* x, const float* dy, const float* mean,
                             const float* inv_std, const float* gamma, float* dx, float* dgamma,
                             float* dbeta, int64_t outer, int64_t channels, int64_t inner) {
  const auto n = static_cast<double>(outer * inner);
  for (int64_t c = 0; c < channels; ++c) {
    const double mu = mean[c], r = inv_std[c], g = gamma ? gamma[c] : 1.0;
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (o * channels + c) * inner + i;
        sum_dy += dy[idx];
        sum_dy_xhat += dy[idx] * (x[idx] - mu) * r;
      }
    }
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sum_dy_xhat);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sum_dy);
    if (dx == nullptr) continue;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (o * channels + c) * inner + i;
        const double xhat = (x[idx] - mu) * r;
        dx[idx] = static_cast<float>(g * r * (dy[idx] - sum_dy / n - xhat * sum_dy_xhat / n));
      }
    }
  }
}

void batch_norm_partial_sums(const float* x, double* sum, int64_t outer, int64_t channels,
                             int64_t inner) {
  std::fill_n(sum, channels, 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* __restrict p = x + (o * channels + c) * inner;
      double s = 0.0;
      for (int64_t i = 0; i < inner; ++i) s += p[i];
      sum[c] += s;
    }
  }
}

void batch_norm_partial_squares(const float* x, const double* mean, double* sq, int64_t outer,
                                int64_t channels, int64_t inner) {
  std::fill_n(sq, channels, 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* __restrict p = x + (o * channels + c) * inner;
      const double m = mean[c];
      double s = 0.0;
      for (int64_t i = 0; i < inner; ++i) s += (p[i] - m) * (p[i] - m);
      sq[c] += s;
    }
  }
}

void batch_norm_backward_partial_sums(const float* x, const float* dy, const float* mean,
                                      double* s1, double* s2, int64_t outer, int64_t channels,
                                      int64_t inner) {
  std::fill_n(s1, channels, 0.0);
  std::fill_n(s2, channels, 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      const float mu = mean[c];
      double a = 0.0, b = 0.0;
      for (int64_t i = 0; i < inner; ++i) {
        a += dy[base + i];
        b += static_cast<double>(dy[base + i]) * (x[base + i] - mu);
      }
      s1[c] += a;
      s2[c] += b;
    }
  }
}

void batch_norm_backward_dx(const float* x, const float* dy, const float* mean,
                            const float* inv_std, const float* gamma, const double* s1,
                            const double* s2, double n, float* dx, int64_t outer,
                            int64_t channels, int64_t inner) {
  const double inv_n = n > 0 ? 1.0 / n : 0.0;
  thread_local std::vector<BackwardCoefficients> k;  // grows once per shape, then reused
  if (k.size() < static_cast<size_t>(channels)) k.resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    k[size_t(c)] = coefficients(s1[c], s2[c], inv_n, inv_std[c], gamma ? gamma[c] : 1.0f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      const BackwardCoefficients kc = k[size_t(c)];
      const float mu = mean[c];
      for (int64_t i = 0; i < inner; ++i)
        dx[base + i] = kc.k_dy * dy[base + i] + kc.k_xm * (x[base + i] - mu) + kc.k_c;
    }
  }
}

void batch_norm_inference_backward(const float* x, const float* dy, const float* mean,
                                   const float* inv_std, const float* gamma, float* dx,
                                   float* dgamma, float* dbeta, int64_t outer, int64_t channels,
                                   int64_t inner) {
  // Rarely on the hot path (frozen layers only): a plain per-channel loop.
  for (int64_t c = 0; c < channels; ++c) {
    const float mu = mean[c], r = inv_std[c];
    const float k = gamma ? gamma[c] * r : r;
    double s1 = 0.0, s2 = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t base = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        s1 += dy[base + i];
        s2 += static_cast<double>(dy[base + i]) * (x[base + i] - mu);
        if (dx != nullptr) dx[base + i] = dy[base + i] * k;
      }
    }
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(s2 * r);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(s1);
  }
}

}  // namespace keel
