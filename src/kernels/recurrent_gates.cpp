#include "keel/kernels/recurrent_gates.h"

#include <cstring>

#include "keel/kernels/activations.h"

#include "dispatch.h"
#include "simd.h"

namespace keel {

namespace {

// sigmoid and tanh on any float vector type (simd.h), from exp of a non-positive argument.
template <class F>
KEEL_SIMD_INLINE F abs(F v) {
  return v < 0.0f ? -v : v;
}

template <class F>
KEEL_SIMD_INLINE F sigmoid(F z) {
  const F e = simd::exp_nonpositive(-abs(z));  // e^-|z| in (0, 1]
  const F s = 1.0f / (1.0f + e);               // sigmoid(|z|)
  return z < 0.0f ? e * s : s;                 // sigmoid(-|z|) = e^-|z| / (1 + e^-|z|)
}

template <class F>
KEEL_SIMD_INLINE F tanh(F z) {
  const F e = simd::exp_nonpositive(-2.0f * abs(z));
  const F t = (1.0f - e) / (1.0f + e);
  return z < 0.0f ? -t : t;
}

enum class Gate { kSigmoid, kTanh };

// y = f(z) over n values, vectors of type F; the tail is one zero-padded vector, so every value
// takes the same operations whatever n is.
template <class F, Gate G>
KEEL_SIMD_INLINE F apply(F v) {
  if constexpr (G == Gate::kSigmoid) return sigmoid(v);
  else return tanh(v);
}

// (No lambda: it would be a function of its own, compiled for the default target.)
template <class F, Gate G>
KEEL_SIMD_INLINE void gate_loop(const float* z, float* y, int64_t n) {
  constexpr auto lanes = static_cast<int64_t>(sizeof(F) / sizeof(float));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    F v;
    std::memcpy(&v, z + i, sizeof v);
    v = apply<F, G>(v);
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    F v{};
    for (int64_t k = 0; i + k < n; ++k) v[k] = z[i + k];
    v = apply<F, G>(v);
    for (int64_t k = 0; i + k < n; ++k) y[i + k] = v[k];
  }
}

// One function per ISA, picked once from cpuid: 16 lanes (one zmm) with AVX-512, 8 (one ymm) with
// AVX2 (a 16-lane vector's integer steps go through the stack there: the 8-lane loop measured
// several times faster), 16 lanes as four xmm on baseline x86-64. The same IEEE operations per
// lane in each (FP contraction is off, dispatch.h), so every ISA gives the same bits.
#if defined(KEEL_PER_ISA)
template <Gate G>
__attribute__((target("avx512f"))) void gate_avx512(const float* z, float* y, int64_t n) {
  gate_loop<simd::f32x16, G>(z, y, n);
}
template <Gate G>
__attribute__((target("avx2"))) void gate_avx2(const float* z, float* y, int64_t n) {
  gate_loop<simd::f32x8, G>(z, y, n);
}
template <Gate G>
void gate_baseline(const float* z, float* y, int64_t n) {
  gate_loop<simd::f32x16, G>(z, y, n);
}
template <Gate G>
void gate(const float* z, float* y, int64_t n) {
  const VectorIsa isa = vector_isa();
  if (isa == VectorIsa::kAvx512) return gate_avx512<G>(z, y, n);
  if (isa == VectorIsa::kAvx2) return gate_avx2<G>(z, y, n);
  gate_baseline<G>(z, y, n);
}
#else
template <Gate G>
void gate(const float* z, float* y, int64_t n) {
  gate_loop<simd::f32x16, G>(z, y, n);
}
#endif

}  // namespace

void gate_activation_forward(ActivationKind kind, const float* z, float* y, int64_t n) {
  if (kind == ActivationKind::kSigmoid) return gate<Gate::kSigmoid>(z, y, n);
  if (kind == ActivationKind::kTanh) return gate<Gate::kTanh>(z, y, n);
  activation_forward(kind, z, y, 1, n);
}

}  // namespace keel
