#include "keel/kernels/recurrent_gates.h"

#include "keel/kernels/activations.h"

#include "dispatch.h"
#include "simd.h"

namespace keel {

namespace {

KEEL_SIMD_INLINE simd::f32x16 abs(simd::f32x16 v) {
  using namespace simd;
  return select(v < 0.0f, -v, v);
}

KEEL_SIMD_INLINE simd::f32x16 sigmoid(simd::f32x16 z) {
  using namespace simd;
  const f32x16 e = exp_nonpositive(-abs(z));  // e^-|z| in (0, 1]
  const f32x16 s = 1.0f / (1.0f + e);         // sigmoid(|z|)
  return select(z < 0.0f, e * s, s);          // sigmoid(-|z|) = e^-|z| / (1 + e^-|z|)
}

KEEL_SIMD_INLINE simd::f32x16 tanh(simd::f32x16 z) {
  using namespace simd;
  const f32x16 e = exp_nonpositive(-2.0f * abs(z));
  const f32x16 t = (1.0f - e) / (1.0f + e);
  return select(z < 0.0f, -t, t);
}

// Vector helpers are always_inline (simd.h), so each loop is spelled out rather than taking a
// callable: a lambda would be a call with vector arguments in the baseline clone.
KEEL_MULTIVERSION void sigmoid_loop(const float* z, float* y, int64_t n) {
  using namespace simd;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, sigmoid(load(z + i)));
  if (i < n) store_partial(y + i, sigmoid(load_partial(z + i, n - i)), n - i);
}

KEEL_MULTIVERSION void tanh_loop(const float* z, float* y, int64_t n) {
  using namespace simd;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, tanh(load(z + i)));
  if (i < n) store_partial(y + i, tanh(load_partial(z + i, n - i)), n - i);
}

}  // namespace

void gate_activation_forward(ActivationKind kind, const float* z, float* y, int64_t n) {
  if (kind == ActivationKind::kSigmoid) return sigmoid_loop(z, y, n);
  if (kind == ActivationKind::kTanh) return tanh_loop(z, y, n);
  activation_forward(kind, z, y, 1, n);
}

}  // namespace keel
