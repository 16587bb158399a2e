// Batch normalization kernels (Keras semantics, keras-semantics.md §1).
//
// Layout: x is viewed as (outer, channels, inner) row-major; statistics are per channel over the
// outer·inner elements. A (N, C) input with axis=-1 is (N, C, 1); an NHWC input with axis=-1 is
// (N·H·W, C, 1); an NCHW input with axis=1 is (N, C, H·W).
//
// Numerics: statistics are two-pass (mean, then Σ(x-mean)²) with double accumulators, so a feature
// with mean 1e4 and spread 1 still gets its variance right. Each channel is reduced by one thread in
// a fixed order, so results do not depend on the thread count.
// Backward derivation: x̂ = (x-μ)·r, r = 1/√(σ²+ε), y = γx̂ + β, n = outer·inner:
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γr·(dy - Σdy/n - x̂·Σ(dy·x̂)/n)   (see docs/batch_norm_backward.md)
#pragma once

#include <cstdint>

#include "keel/kernels/pool.h"

namespace keel {

// x: (outer, channels, inner)
// mean, var: (channels) written; var is the BIASED batch variance (divide by n), as tf.nn.moments.
void batch_norm_stats(const float* x, float* mean, float* var, int64_t outer, int64_t channels,
                      int64_t inner);
void batch_norm_stats_ref(const float* x, float* mean, float* var, int64_t outer,
                          int64_t channels, int64_t inner);

// Per-channel affine form of the normalisation, evaluated exactly as tf.nn.batch_normalization:
//   inv = rsqrt(var + eps) * gamma;  scale = inv;  shift = beta - mean * inv   (all float)
// mean, var: (channels); gamma, beta: (channels) or nullptr (scale=False / center=False)
// scale, shift: (channels) written; inv_std: (channels) written with rsqrt(var + eps) (no gamma),
// or nullptr when not needed (inference).
void batch_norm_scale_shift(const float* mean, const float* var, const float* gamma,
                            const float* beta, float epsilon, float* scale, float* shift,
                            float* inv_std, int64_t channels);

// x, y: (outer, channels, inner); y = x * scale + shift per channel, or with `relu`
// max(x * scale + shift, 0) (a ReLU fused into the same pass, bit for bit the two passes). y may
// equal x.
void batch_norm_apply(const float* x, const float* scale, const float* shift, float* y,
                      int64_t outer, int64_t channels, int64_t inner, bool relu = false);
void batch_norm_apply_ref(const float* x, const float* scale, const float* shift, float* y,
                          int64_t outer, int64_t channels, int64_t inner);

// moving: (channels) in/out, batch_stat: (channels).  moving -= (moving - batch_stat) * (1 - momentum)
// with the decay rounded to float first, exactly as Keras 2 _assign_moving_average.
void batch_norm_moving_update(float* moving, const float* batch_stat, double momentum,
                              int64_t channels);

// TensorFlow's fused CPU kernel (FusedBatchNorm, exponential_avg_factor f = 1 - momentum in float),
// what tf.keras 2.x runs for 4-D / 5-D inputs: with n values per channel,
//   moving_mean = moving_mean·(1-f) + mean·f
//   moving_var  = moving_var·(1-f)  + var·(n/(n-1))·f     (the UNBIASED batch variance; n/max(n-1,1))
// moving_mean, moving_var: (channels) in/out; mean, var (biased): (channels).
void batch_norm_moving_update_fused(float* moving_mean, float* moving_var, const float* mean,
                                    const float* var, double momentum, int64_t n,
                                    int64_t channels);

// A ReLU fused after the normalisation: its output y, and the scale and shift (channels) the
// forward applied before clamping. With scale and shift, the (outer, <= 64 channels) kernels mask
// dy where x·scale + shift <= 0, recomputed as the forward computed it (the same rounding), and do
// not read y: one stream fewer in each backward pass. Without them, or on other layouts, y.
struct FusedRelu {
  const float* y = nullptr;
  const float* scale = nullptr;
  const float* shift = nullptr;
};

// A MaxPooling2D fused after that ReLU (the plan's BN + ReLU + pool fusion; the forward was
// max_pool2d_forward_affine_relu, recording `argmax`): dy is then the POOL's output gradient, and
// the (outer, <= 64 channels) kernels expand it row chunk by row chunk (max_pool2d_backward_rows)
// into cache, so the full-size gradient is never written. g: the pool, batch included.
struct FusedMaxPool {
  const Pool2dGeometry* g = nullptr;
  const uint8_t* argmax = nullptr;
};

// x, dy: (outer, channels, inner); mean, inv_std: (channels) from the training forward
// gamma: (channels) or nullptr (=1)
// dx: (outer, channels, inner) written, or nullptr
// dgamma, dbeta: (channels) ADDED into, or nullptr
// relu: a ReLU fused after the normalisation (batch_norm_apply with relu), or none (y null);
// dy is then w.r.t. the ReLU's output y and is masked where y is 0 (as relu's backward).
// pool: a max pooling fused after that ReLU, or none; requires inner == 1, channels <= 64 and
// relu.scale / relu.shift (batch_norm_fuses_max_pool).
void batch_norm_backward(const float* x, const float* dy, const float* mean, const float* inv_std,
                         const float* gamma, float* dx, float* dgamma, float* dbeta,
                         int64_t outer, int64_t channels, int64_t inner,
                         const FusedRelu& relu = {}, const FusedMaxPool& pool = {});
// Whether batch_norm_backward takes a FusedMaxPool for this layout: (outer, <= 64 channels).
bool batch_norm_fuses_max_pool(int64_t channels, int64_t inner);
void batch_norm_backward_ref(const float* x, const float* dy, const float* mean,
                             const float* inv_std, const float* gamma, float* dx, float* dgamma,
                             float* dbeta, int64_t outer, int64_t channels, int64_t inner);

// Synchronized BN (data-parallel training, docs/distributed.md): each rank reduces its own rows
// into per-channel partial sums in double, the layer all-reduces them between the calls, and every
// rank then works with the global statistics. Same formulas and float/double boundaries as
// batch_norm_stats / batch_norm_backward, so one rank holding every row matches them to rounding.
// sum: (channels) written with Σx over this rank's outer·inner values of each channel.
void batch_norm_partial_sums(const float* x, double* sum, int64_t outer, int64_t channels,
                             int64_t inner);
// sq: (channels) written with Σ(x - mean)², mean: (channels) the global mean in double.
void batch_norm_partial_squares(const float* x, const double* mean, double* sq, int64_t outer,
                                int64_t channels, int64_t inner);
// s1, s2: (channels) written with Σdy and Σdy·(x - mean), (x - mean) in float as in the backward.
void batch_norm_backward_partial_sums(const float* x, const float* dy, const float* mean,
                                      double* s1, double* s2, int64_t outer, int64_t channels,
                                      int64_t inner);
// dx (written) from the GLOBAL sums s1, s2 over n values per channel:
//   dx = γr·dy - γr³·s2/n·(x - mean) - γr·s1/n       (gamma may be nullptr: 1)
void batch_norm_backward_dx(const float* x, const float* dy, const float* mean,
                            const float* inv_std, const float* gamma, const double* s1,
                            const double* s2, double n, float* dx, int64_t outer,
                            int64_t channels, int64_t inner);

// Backward of the inference-mode (fixed statistics) normalisation, used when a frozen BN
// (trainable=False) sits inside a network that is being trained:
//   dx = dy·γr,  dγ += Σ dy·(x-μ)·r,  dβ += Σ dy     (μ, r from the moving statistics)
// Same argument conventions as batch_norm_backward.
void batch_norm_inference_backward(const float* x, const float* dy, const float* mean,
                                   const float* inv_std, const float* gamma, float* dx,
                                   float* dgamma, float* dbeta, int64_t outer, int64_t channels,
                                   int64_t inner);

}  // namespace keel
