#include "keel/kernels/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "dispatch.h"

namespace keel {

namespace {
// 2^18: the seed model at batch 256 (at most 200k elements per kernel) stays on one thread. A
// parallel region waits for its slowest thread; on a shared 2-core machine a descheduled worker
// turned a 90 µs BN/ELU pass into milliseconds (keel_bench BM_BiasElu), while one thread
// streams these sizes in ~50-180 µs.
constexpr int64_t kParallelMinElements = int64_t{1} << 18;
// Channel block of the (N, C) path: the block's double accumulators live on the stack, and the
// inner loop runs over contiguous channels of one row, so it vectorises.
constexpr int64_t kBlock = 64;

int64_t num_blocks(int64_t channels) { return (channels + kBlock - 1) / kBlock; }

// Channels [c0, c0 + w) of the (N, C) layout: two passes over the rows, double accumulators.
KEEL_MULTIVERSION void stats_block(const float* x, float* mean, float* var, int64_t outer,
                                   int64_t channels, int64_t c0, int64_t w, double inv_n) {
  double sum[kBlock] = {}, sq[kBlock] = {};
  for (int64_t r = 0; r < outer; ++r) {
    const float* __restrict row = x + r * channels + c0;
    for (int64_t j = 0; j < w; ++j) sum[j] += row[j];
  }
  for (int64_t j = 0; j < w; ++j) sum[j] *= inv_n;  // now the mean
  for (int64_t r = 0; r < outer; ++r) {
    const float* __restrict row = x + r * channels + c0;
    for (int64_t j = 0; j < w; ++j) {
      const double d = row[j] - sum[j];
      sq[j] += d * d;
    }
  }
  for (int64_t j = 0; j < w; ++j) {
    mean[c0 + j] = static_cast<float>(sum[j]);
    var[c0 + j] = static_cast<float>(sq[j] * inv_n);
  }
}

// Rows of y = x·scale + shift, (rows, channels) layout.
KEEL_MULTIVERSION void apply_rows(const float* x, const float* scale, const float* shift, float* y,
                                  int64_t rows, int64_t channels) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    for (int64_t c = 0; c < channels; ++c) yr[c] = xr[c] * scale[c] + shift[c];
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

void batch_norm_scale_shift(const float* mean, const float* var, const float* gamma,
                            const float* beta, float epsilon, float* scale, float* shift,
                            float* inv_std, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    float inv = 1.0f / std::sqrt(var[c] + epsilon);
    if (inv_std != nullptr) inv_std[c] = inv;
    if (gamma != nullptr) inv *= gamma[c];
    scale[c] = inv;
    shift[c] = beta != nullptr ? beta[c] - mean[c] * inv : -(mean[c] * inv);
  }
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

// Channels [c0, c0 + w) of the (N, C) backward: the two sums in double, then dx.
KEEL_MULTIVERSION void backward_block(const float* x, const float* dy, const float* mean,
                                      const float* inv_std, const float* gamma, float* dx,
                                      float* dgamma, float* dbeta, int64_t outer, int64_t channels,
                                      int64_t c0, int64_t w, double inv_n) {
  double s1[kBlock] = {}, s2[kBlock] = {};
  float mu[kBlock];
  for (int64_t j = 0; j < w; ++j) mu[j] = mean[c0 + j];
  for (int64_t r = 0; r < outer; ++r) {
    const float* __restrict xr = x + r * channels + c0;
    const float* __restrict dyr = dy + r * channels + c0;
    for (int64_t j = 0; j < w; ++j) {
      s1[j] += dyr[j];
      s2[j] += static_cast<double>(dyr[j]) * (xr[j] - mu[j]);
    }
  }
  float k_dy[kBlock], k_xm[kBlock], k_c[kBlock];
  for (int64_t j = 0; j < w; ++j) {
    const float r = inv_std[c0 + j];
    if (dgamma != nullptr) dgamma[c0 + j] += static_cast<float>(s2[j] * r);
    if (dbeta != nullptr) dbeta[c0 + j] += static_cast<float>(s1[j]);
    const auto k = coefficients(s1[j], s2[j], inv_n, r, gamma ? gamma[c0 + j] : 1.0f);
    k_dy[j] = k.k_dy, k_xm[j] = k.k_xm, k_c[j] = k.k_c;
  }
  if (dx == nullptr) return;
  for (int64_t r = 0; r < outer; ++r) {
    const float* __restrict xr = x + r * channels + c0;
    const float* __restrict dyr = dy + r * channels + c0;
    float* __restrict dxr = dx + r * channels + c0;
    for (int64_t j = 0; j < w; ++j) dxr[j] = k_dy[j] * dyr[j] + k_xm[j] * (xr[j] - mu[j]) + k_c[j];
  }
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
