// Portable 16-lane float vectors for the memory-bound kernels (private to src/kernels).
//
// GCC/Clang vector extensions instead of intrinsics: inside a KEEL_MULTIVERSION function
// (dispatch.h) the same source becomes one zmm per vector in the avx512f clone, two ymm in the
// avx2 clone and four xmm in the baseline x86-64 one. Every operation is an IEEE float op on each
// lane, FP contraction is off (dispatch.h), so all clones and the scalar tails give the same bits.
// Auto-vectorisation was not enough: GCC left ELU's exp scalar in the avx2/avx512 clones.
//
// Helpers are always_inline: a vector argument to a non-inlined default-target function would
// go through memory (the baseline ABI has no 64-byte registers).
#pragma once

#include <cstdint>
#include <cstring>

#include "dispatch.h"

#define KEEL_SIMD_INLINE inline __attribute__((always_inline))

namespace keel::simd {

constexpr int64_t kLanes = 16;
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef double f64x8 __attribute__((vector_size(64)));

KEEL_SIMD_INLINE f32x16 splat(float v) { return f32x16{} + v; }

KEEL_SIMD_INLINE f32x16 load(const float* p) {
  f32x16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
KEEL_SIMD_INLINE void store(float* p, f32x16 v) { std::memcpy(p, &v, sizeof v); }

// First n < 16 lanes from p, the rest 0; and the matching store of the first n lanes.
// (Element loops, not memcpy: a variable-length memcpy is a libc call per row tail.)
KEEL_SIMD_INLINE f32x16 load_partial(const float* p, int64_t n) {
  f32x16 v = {};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
KEEL_SIMD_INLINE void store_partial(float* p, f32x16 v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = v[i];
}

// Lanes [j, min(j + 16, w)) of p: a full load, or a partial one at the end of a block of w.
KEEL_SIMD_INLINE f32x16 load_upto(const float* p, int64_t j, int64_t w) {
  return j + kLanes <= w ? load(p + j) : load_partial(p + j, w - j);
}

// 8 floats widened to doubles (one zmm of doubles in the avx512f clone).
KEEL_SIMD_INLINE f64x8 load_f64(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, f64x8);
}
KEEL_SIMD_INLINE f64x8 load_partial_f64(const float* p, int64_t n) {
  f32x8 v = {};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return __builtin_convertvector(v, f64x8);
}

// Lanes 0-7 and 8-15 widened to doubles.
KEEL_SIMD_INLINE f64x8 low_f64(f32x16 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), f64x8);
}
KEEL_SIMD_INLINE f64x8 high_f64(f32x16 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15),
                                 f64x8);
}

// Lanes [j, min(j + 8, w)) of p widened to doubles.
KEEL_SIMD_INLINE f64x8 load_f64_upto(const float* p, int64_t j, int64_t w) {
  return j + 8 <= w ? load_f64(p + j) : load_partial_f64(p + j, w - j);
}

KEEL_SIMD_INLINE f32x16 select(i32x16 mask, f32x16 a, f32x16 b) { return mask ? a : b; }

// exp(x) for x <= 0, lane by lane the same operations as fast_math.h's exp_nonpositive (so the
// vector and scalar paths agree to the bit). Any float vector type: f32x16, or f32x8 where one
// ymm is the natural width (the AVX2 recurrent gates: GCC splits a 64-byte vector's integer
// steps badly in an AVX2 function, through the stack).
template <class F>
KEEL_SIMD_INLINE F exp_nonpositive(F x) {
  using I = decltype(x < x);  // the same-width int32 vector
  x = x < -87.0f ? F{} - 87.0f : x;
  const I n = __builtin_convertvector(x * 1.44269504088896341f - 0.5f, I);
  const F fx = __builtin_convertvector(n, F);
  F r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  F p = F{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I bits = (n + 127) << 23;
  F scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// Keras elu (alpha 1): z > 0 ? z : exp(z) - 1, as fast_math.h's elu.
KEEL_SIMD_INLINE f32x16 elu(f32x16 z) {
  const f32x16 e = exp_nonpositive(select(z < 0.0f, z, splat(0.0f))) - 1.0f;
  return select(z > 0.0f, z, e);
}

// TF EluGrad from the output: y < 0 ? dy·(y + 1) : dy.
KEEL_SIMD_INLINE f32x16 elu_grad(f32x16 y, f32x16 dy) {
  return select(y < 0.0f, dy * (y + 1.0f), dy);
}

}  // namespace keel::simd

// Column blocks of up to 4 vectors (64 channels) with the vector count as a template constant:
// runs BODY(G, W) (a macro that returns) for G = ceil(w / 16) in [1, 4], with W the literal 16·G
// when w fills its vectors (so tail checks fold away) and w otherwise.
#define KEEL_FOR_VECTOR_COUNT(w, BODY)          \
  switch (((w) + 15) / 16) {                    \
    case 4: if ((w) == 64) BODY(4, 64); BODY(4, w); \
    case 3: if ((w) == 48) BODY(3, 48); BODY(3, w); \
    case 2: if ((w) == 32) BODY(2, 32); BODY(2, w); \
    case 1: if ((w) == 16) BODY(1, 16); BODY(1, w); \
    default: __builtin_unreachable(); /* blocks hold 1 to 64 columns */ \
  }
