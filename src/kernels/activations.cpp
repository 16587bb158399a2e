#include "keel/kernels/activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dispatch.h"
#include "fast_math.h"
#include "parallel.h"
#include "simd.h"

namespace keel {

namespace {

inline float sigmoid(float z) {
  // Both branches avoid exp overflow; identical to 1/(1+exp(-z)) where that is finite.
  if (z >= 0.0f) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

void softmax_forward(const float* z, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    float* yr = y + r * cols;
    float max = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) max = std::max(max, zr[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = std::exp(zr[j] - max);
      sum += yr[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void softmax_backward(const float* y, const float* dy, float* dz, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dzr = dz + r * cols;
    float dot = 0.0f;
    for (int64_t j = 0; j < cols; ++j) dot += dyr[j] * yr[j];
    for (int64_t j = 0; j < cols; ++j) dzr[j] = yr[j] * (dyr[j] - dot);
  }
}

// Applies an elementwise function; one loop body per kind so each loop vectorises on its own.
template <typename F>
inline void map1(const float* z, float* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(z[i]);
}

}  // namespace

void activation_forward_ref(ActivationKind kind, const float* z, float* y, int64_t rows,
                            int64_t cols) {
  const int64_t n = rows * cols;
  switch (kind) {
    case ActivationKind::kLinear:
      if (y != z) std::memcpy(y, z, static_cast<size_t>(n) * sizeof(float));
      return;
    case ActivationKind::kRelu:
      return map1(z, y, n, [](float v) { return v > 0.0f ? v : 0.0f; });
    case ActivationKind::kElu:
      return map1(z, y, n, [](float v) { return v > 0.0f ? v : std::exp(v) - 1.0f; });
    case ActivationKind::kSelu:
      return map1(z, y, n, [](float v) {
        return v > 0.0f ? kSeluScale * v : kSeluScale * kSeluAlpha * (std::exp(v) - 1.0f);
      });
    case ActivationKind::kLeakyRelu:
      return map1(z, y, n, [](float v) { return v > 0.0f ? v : kLeakyReluSlope * v; });
    case ActivationKind::kTanh:
      return map1(z, y, n, [](float v) { return std::tanh(v); });
    case ActivationKind::kSigmoid:
      return map1(z, y, n, [](float v) { return sigmoid(v); });
    case ActivationKind::kSoftplus:
      return map1(z, y, n,
                  [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); });
    case ActivationKind::kGelu:
      return map1(z, y, n, [](float v) {
        return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752440f));
      });
    case ActivationKind::kSwish:
      return map1(z, y, n, [](float v) { return v * sigmoid(v); });
    case ActivationKind::kHardSigmoid:
      return map1(z, y, n, [](float v) { return std::clamp(0.2f * v + 0.5f, 0.0f, 1.0f); });
    case ActivationKind::kSoftmax:
      return softmax_forward(z, y, rows, cols);
  }
}

void activation_backward_ref(ActivationKind kind, const float* z, const float* y, const float* dy,
                             float* dz, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  switch (kind) {
    case ActivationKind::kLinear:
      if (dz != dy) std::memcpy(dz, dy, static_cast<size_t>(n) * sizeof(float));
      return;
    case ActivationKind::kRelu:
      for (int64_t i = 0; i < n; ++i) dz[i] = z[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case ActivationKind::kElu:
      for (int64_t i = 0; i < n; ++i) dz[i] = y[i] < 0.0f ? dy[i] * (y[i] + 1.0f) : dy[i];
      return;
    case ActivationKind::kSelu:
      for (int64_t i = 0; i < n; ++i) {
        dz[i] = y[i] < 0.0f ? dy[i] * (y[i] + kSeluScale * kSeluAlpha) : dy[i] * kSeluScale;
      }
      return;
    case ActivationKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) dz[i] = z[i] > 0.0f ? dy[i] : dy[i] * kLeakyReluSlope;
      return;
    case ActivationKind::kTanh:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    case ActivationKind::kSigmoid:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * (y[i] * (1.0f - y[i]));
      return;
    case ActivationKind::kSoftplus:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * sigmoid(z[i]);
      return;
    case ActivationKind::kGelu:
      for (int64_t i = 0; i < n; ++i) {
        // d/dz [z·Φ(z)] = Φ(z) + z·φ(z)
        const float v = z[i];
        const float cdf = 0.5f * (1.0f + std::erf(v * 0.70710678118654752440f));
        const float pdf = 0.39894228040143267794f * std::exp(-0.5f * v * v);
        dz[i] = dy[i] * (cdf + v * pdf);
      }
      return;
    case ActivationKind::kSwish:
      for (int64_t i = 0; i < n; ++i) {
        const float s = sigmoid(z[i]);
        dz[i] = dy[i] * (s * (1.0f + z[i] * (1.0f - s)));
      }
      return;
    case ActivationKind::kHardSigmoid:
      // tf.clip_by_value passes the gradient where the clipped value is within [0, 1].
      for (int64_t i = 0; i < n; ++i) {
        const float t = 0.2f * z[i] + 0.5f;
        dz[i] = t >= 0.0f && t <= 1.0f ? 0.2f * dy[i] : 0.0f;
      }
      return;
    case ActivationKind::kSoftmax:
      return softmax_backward(y, dy, dz, rows, cols);
  }
}

namespace {

// v[i] = exp(v[i]) for v[i] <= 0, flushed to 0 below -87 (where exp_nonpositive clamps, so
// exp(-2000) is 0 rather than exp(-87) ~ 1.6e-38; the true values there are below 1.7e-38, which
// no softmax sum of at least 1 can see): sixteen lanes at a time, the tail through the same
// vector code, so every element gets the same bits.
KEEL_SIMD_INLINE simd::f32x16 exp_or_zero(simd::f32x16 v) {
  using namespace simd;
  return select(v < -87.0f, splat(0.0f), exp_nonpositive(v));
}
KEEL_MULTIVERSION void exp_nonpositive_loop(float* v, int64_t n) {
  using namespace simd;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(v + i, exp_or_zero(load(v + i)));
  if (i < n) store_partial(v + i, exp_or_zero(load_partial(v + i, n - i)), n - i);
}

KEEL_MULTIVERSION void elu_forward_loop(const float* __restrict z, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = elu(z[i]);
}
KEEL_MULTIVERSION void elu_backward_loop(const float* __restrict y, const float* dy, float* dz,
                                         int64_t n) {
  for (int64_t i = 0; i < n; ++i) dz[i] = elu_grad(y[i], dy[i]);
}

// ReLU, the CNNs' activation: one vectorised pass each way (GCC vectorises both loops in every
// clone), run by the whole team on large tensors (for_each_element_range).
KEEL_MULTIVERSION void relu_forward_loop(const float* z, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = z[i] > 0.0f ? z[i] : 0.0f;
}
// From the output: relu(z) > 0 exactly where z > 0 (NaN and -0 give 0 either way), so layers keep
// no copy of z (backward_needs_only_output).
KEEL_MULTIVERSION void relu_backward_loop(const float* y, const float* dy, float* dz, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace

void softmax_exponentials(const float* z, float* e, int64_t rows, int64_t cols) {
  if (cols <= 0) return;
  // Rows of 10 logits are too short to vectorise one by one: shift every row first, then one
  // vector exp over the whole (rows, cols) array. The shifted values are <= 0 (0 at the max).
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    float* er = e + r * cols;
    float max = zr[0];
    for (int64_t k = 1; k < cols; ++k) max = std::max(max, zr[k]);
    for (int64_t k = 0; k < cols; ++k) er[k] = zr[k] - max;
  }
  exp_nonpositive_loop(e, rows * cols);
}

// Fast paths for the activations on the seed models' hot paths (elu and softmax in the MLP, relu in
// the CNN); the others are transcendental-heavy and rare, so they share the reference code.
void activation_forward(ActivationKind kind, const float* z, float* y, int64_t rows,
                        int64_t cols) {
  if (kind == ActivationKind::kElu) return elu_forward_loop(z, y, rows * cols);
  if (kind == ActivationKind::kRelu) {
    return for_each_element_range(rows * cols, [&](int64_t begin, int64_t end) {
      relu_forward_loop(z + begin, y + begin, end - begin);
    });
  }
  if (kind == ActivationKind::kSoftmax) {
    softmax_exponentials(z, y, rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = y + r * cols;
      float sum = 0.0f;
      for (int64_t k = 0; k < cols; ++k) sum += yr[k];
      const float inv = 1.0f / sum;
      for (int64_t k = 0; k < cols; ++k) yr[k] *= inv;
    }
    return;
  }
  activation_forward_ref(kind, z, y, rows, cols);
}

void activation_backward(ActivationKind kind, const float* z, const float* y, const float* dy,
                         float* dz, int64_t rows, int64_t cols) {
  if (kind == ActivationKind::kElu) return elu_backward_loop(y, dy, dz, rows * cols);
  if (kind == ActivationKind::kRelu) {
    return for_each_element_range(rows * cols, [&](int64_t begin, int64_t end) {
      relu_backward_loop(y + begin, dy + begin, dz + begin, end - begin);
    });
  }
  activation_backward_ref(kind, z, y, dy, dz, rows, cols);
}

}  // namespace keel
