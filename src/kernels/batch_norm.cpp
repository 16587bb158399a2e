#include "keel/kernels/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

namespace keel {

namespace {
// Channel block of the (N, C) path: the block's double accumulators fit in vector registers, and
// the inner loop runs over contiguous channels of one row. Blocks are the unit of parallel work.
constexpr int64_t kBlock = 64;

int64_t num_blocks(int64_t channels) { return (channels + kBlock - 1) / kBlock; }

// Channels [c0, c0 + w) of the (N, C) layout: two passes over the rows, double accumulators
// (8 channels per vector of doubles; lanes past w load 0 and are never written back).
// kFullBlock: w == kBlock, so every loop over the vectors has a constant trip count, the compiler
// unrolls it and the accumulators stay in registers (with a runtime count they live on the stack
// and every row pays a store-to-load round trip per vector).
template <bool kFullBlock>
KEEL_SIMD_INLINE void stats_block_body(const float* x, float* mean, float* var, int64_t outer,
                                       int64_t channels, int64_t c0, int64_t w, double inv_n) {
  using namespace simd;
  constexpr int64_t kVecs = kBlock / 8;
  const int64_t vecs = kFullBlock ? kVecs : (w + 7) / 8;
  const int64_t wc = kFullBlock ? kBlock : w;  // a constant for full blocks
  f64x8 sum[kVecs] = {}, sq[kVecs] = {};
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = x + r * channels + c0;
#pragma GCC unroll 8
    for (int64_t v = 0; v < vecs; ++v) sum[v] += load_f64_upto(row, v * 8, wc);
  }
#pragma GCC unroll 8
  for (int64_t v = 0; v < vecs; ++v) sum[v] *= inv_n;  // now the mean
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = x + r * channels + c0;
#pragma GCC unroll 8
    for (int64_t v = 0; v < vecs; ++v) {
      const f64x8 d = load_f64_upto(row, v * 8, wc) - sum[v];
      sq[v] += d * d;
    }
  }
  for (int64_t j = 0; j < w; ++j) {
    mean[c0 + j] = static_cast<float>(sum[j / 8][j % 8]);
    var[c0 + j] = static_cast<float>(sq[j / 8][j % 8] * inv_n);
  }
}

KEEL_MULTIVERSION void stats_block(const float* x, float* mean, float* var, int64_t outer,
                                   int64_t channels, int64_t c0, int64_t w, double inv_n) {
  if (w == kBlock) return stats_block_body<true>(x, mean, var, outer, channels, c0, w, inv_n);
  stats_block_body<false>(x, mean, var, outer, channels, c0, w, inv_n);
}

// Rows of y = x·scale + shift, (rows, channels) layout.
KEEL_MULTIVERSION void apply_rows(const float* x, const float* scale, const float* shift, float* y,
                                  int64_t rows, int64_t channels) {
  using namespace simd;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    int64_t c = 0;
    for (; c + kLanes <= channels; c += kLanes) {
      store(yr + c, load(xr + c) * load(scale + c) + load(shift + c));
    }
    for (; c < channels; ++c) yr[c] = xr[c] * scale[c] + shift[c];
  }
}
}  // namespace

void batch_norm_stats(const float* x, float* mean, float* var, int64_t outer, int64_t channels,
                      int64_t inner) {
  const int64_t n = outer * inner;
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t blk = 0; blk < num_blocks(channels); ++blk) {
      const int64_t c0 = blk * kBlock;
      stats_block(x, mean, var, outer, channels, c0, std::min(kBlock, channels - c0), inv_n);
    }
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
                      int64_t outer, int64_t channels, int64_t inner) {
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  if (inner == 1) {
    if (!parallel) return apply_rows(x, scale, shift, y, outer, channels);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < outer; ++r) apply_rows(x + r * channels, scale, shift, y + r * channels, 1, channels);
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

// Channels [c0, c0 + w) of the (N, C) backward: the two sums in double, then dx. 16 channels per
// float vector (two vectors of doubles for the sums); lanes past w are 0 and never written back.
// kFullBlock as in stats_block_body.
template <bool kFullBlock>
KEEL_SIMD_INLINE void backward_block_body(const float* x, const float* dy, const float* mean,
                                          const float* inv_std, const float* gamma, float* dx,
                                          float* dgamma, float* dbeta, int64_t outer,
                                          int64_t channels, int64_t c0, int64_t w, double inv_n) {
  using namespace simd;
  constexpr int64_t kVecs = kBlock / kLanes;
  const int64_t vecs = kFullBlock ? kVecs : (w + kLanes - 1) / kLanes;
  const int64_t wc = kFullBlock ? kBlock : w;  // a constant for full blocks
  f32x16 mu[kVecs] = {};
#pragma GCC unroll 4
  for (int64_t v = 0; v < vecs; ++v) mu[v] = load_upto(mean + c0, v * kLanes, wc);
  f64x8 s1[2 * kVecs] = {}, s2[2 * kVecs] = {};
  for (int64_t r = 0; r < outer; ++r) {
    const float* xr = x + r * channels + c0;
    const float* dyr = dy + r * channels + c0;
#pragma GCC unroll 4
    for (int64_t v = 0; v < vecs; ++v) {
      const f32x16 g = load_upto(dyr, v * kLanes, wc);
      const f32x16 xm = load_upto(xr, v * kLanes, wc) - mu[v];  // in float first, as documented above
      s1[2 * v] += low_f64(g);
      s1[2 * v + 1] += high_f64(g);
      s2[2 * v] += low_f64(g) * low_f64(xm);
      s2[2 * v + 1] += high_f64(g) * high_f64(xm);
    }
  }
  alignas(64) float k_dy[kBlock] = {}, k_xm[kBlock] = {}, k_c[kBlock] = {};
  for (int64_t j = 0; j < w; ++j) {
    const double sum1 = s1[j / 8][j % 8], sum2 = s2[j / 8][j % 8];
    const float r = inv_std[c0 + j];
    if (dgamma != nullptr) dgamma[c0 + j] += static_cast<float>(sum2 * r);
    if (dbeta != nullptr) dbeta[c0 + j] += static_cast<float>(sum1);
    const auto k = coefficients(sum1, sum2, inv_n, r, gamma ? gamma[c0 + j] : 1.0f);
    k_dy[j] = k.k_dy, k_xm[j] = k.k_xm, k_c[j] = k.k_c;
  }
  if (dx == nullptr) return;
  for (int64_t r = 0; r < outer; ++r) {
    const float* xr = x + r * channels + c0;
    const float* dyr = dy + r * channels + c0;
    float* dxr = dx + r * channels + c0;
#pragma GCC unroll 4
    for (int64_t v = 0; v < vecs; ++v) {
      const int64_t j = v * kLanes;
      const f32x16 d = load(k_dy + j) * load_upto(dyr, j, wc) +
                       load(k_xm + j) * (load_upto(xr, j, wc) - mu[v]) + load(k_c + j);
      if (kFullBlock || j + kLanes <= w) store(dxr + j, d); else store_partial(dxr + j, d, w - j);
    }
  }
}
KEEL_MULTIVERSION void backward_block(const float* x, const float* dy, const float* mean,
                                      const float* inv_std, const float* gamma, float* dx,
                                      float* dgamma, float* dbeta, int64_t outer, int64_t channels,
                                      int64_t c0, int64_t w, double inv_n) {
  if (w == kBlock) {
    return backward_block_body<true>(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta, outer,
                                     channels, c0, w, inv_n);
  }
  backward_block_body<false>(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta, outer, channels, c0,
                             w, inv_n);
}
}  // namespace

void batch_norm_backward(const float* x, const float* dy, const float* mean, const float* inv_std,
                         const float* gamma, float* dx, float* dgamma, float* dbeta,
                         int64_t outer, int64_t channels, int64_t inner) {
  const int64_t n = outer * inner;
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  const bool parallel = outer * channels * inner >= kParallelMinElements;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t blk = 0; blk < num_blocks(channels); ++blk) {
      const int64_t c0 = blk * kBlock;
      backward_block(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta, outer, channels, c0,
                     std::min(kBlock, channels - c0), inv_n);
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
