// Optimizer-step kernels: chunked gradient sums of squares and the clip-fused SGD update.
//
// The loops use GCC/Clang vector extensions inside KEEL_MULTIVERSION functions (dispatch.h): the
// same source is one zmm per vector in the avx512f clone, two ymm in avx2, four xmm in the
// baseline. Auto-vectorisation gave scalar/SSE code for these loops (the double reduction and the
// clamp's selects). Every lane does the IEEE float/double op the scalar reference does, FP
// contraction is off, so all clones and the *_ref loops give the same bits.
#include "keel/kernels/optimizer_kernels.h"

#include <cstring>

#include <omp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

// GCC 12 false positive inside its own intrinsics headers (_mm512_cvtps_pd starts from
// _mm512_undefined_pd, which it then reports as maybe uninitialised).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif


namespace keel {
namespace {


using simd::f32x16;
using simd::f32x8;
using simd::f64x8;
using simd::high_f64;
using simd::i32x16;
using simd::kLanes;
using simd::load;
using simd::load_partial;
using simd::low_f64;
using simd::splat;
using simd::store;

// Clipvalue's clamp, branch-free (selects) so it vectorises; NaN compares false and passes through.
KEEL_SIMD_INLINE float clamp(float x, float v) { return x < -v ? -v : (x > v ? v : x); }
KEEL_SIMD_INLINE f32x16 clamp(const f32x16& x, float v) {
  const f32x16 hi = splat(v), lo = splat(-v);
  return x < lo ? lo : (x > hi ? hi : x);
}

// ---- sums of squares -------------------------------------------------------------------------

// 32 elements (two vectors) into the four 8-lane accumulators: element j -> lane j % 32.
template <bool kClamp>
KEEL_SIMD_INLINE void accumulate32(const f32x16& x0, const f32x16& x1, float v, f64x8* acc, f64x8* cacc,
                                  i32x16* moved) {
  f64x8 d = low_f64(x0);
  acc[0] += d * d;
  d = high_f64(x0);
  acc[1] += d * d;
  d = low_f64(x1);
  acc[2] += d * d;
  d = high_f64(x1);
  acc[3] += d * d;
  if constexpr (kClamp) {
    const f32x16 c0 = clamp(x0, v), c1 = clamp(x1, v);
    *moved -= (c0 != x0);  // -1 per changed lane
    *moved -= (c1 != x1);
    d = low_f64(c0);
    cacc[0] += d * d;
    d = high_f64(c0);
    cacc[1] += d * d;
    d = low_f64(c1);
    cacc[2] += d * d;
    d = high_f64(c1);
    cacc[3] += d * d;
  }
}

// The fixed combination of the 32 lanes (sum_squares_lanes_ref mirrors it).
KEEL_SIMD_INLINE double combine(const f64x8* acc) {
  const f64x8 s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// g: (n), n <= kOptimizerChunk.
template <bool kClamp>
KEEL_SIMD_INLINE ChunkSums chunk_sums_body(const float* g, int64_t n, float v) {
  f64x8 acc[4] = {}, cacc[4] = {};
  i32x16 moved = {};
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes)
    accumulate32<kClamp>(load(g + i), load(g + i + kLanes), v, acc, cacc, &moved);
  if (i < n) {  // zero lanes add +0.0, which leaves a sum of squares unchanged
    const int64_t rest = n - i;
    const f32x16 x0 = rest >= kLanes ? load(g + i) : load_partial(g + i, rest);
    const f32x16 x1 = rest > kLanes ? load_partial(g + i + kLanes, rest - kLanes) : f32x16{};
    accumulate32<kClamp>(x0, x1, v, acc, cacc, &moved);
  }
  ChunkSums r;
  r.sum_squares = combine(acc);
  if constexpr (kClamp) {
    r.clamped_sum_squares = combine(cacc);
    for (int l = 0; l < kLanes; ++l) r.clamped += moved[l];
  }
  return r;
}

}  // namespace

KEEL_MULTIVERSION ChunkSums detail::chunk_sums_portable(const float* g, int64_t n, float clamp) {
  return clamp > 0.0f ? chunk_sums_body<true>(g, n, clamp) : chunk_sums_body<false>(g, n, 0.0f);
}

namespace {

#if defined(__x86_64__) && !defined(KEEL_NO_MULTIVERSION)
#define KEEL_HAVE_AVX512_SUMS 1
#define KEEL_AVX512_INLINE inline __attribute__((target("avx512f"), always_inline))

// AVX-512 intrinsics for the sums: GCC 12 turns the vector extensions' float -> double widening
// into extract + two half conversions + insert, all on one port, which made the portable loop
// 3x slower than vcvtps2pd zmm, m256 (keel_bench BM_ClipSgdStep). Same lanes, same order.
KEEL_AVX512_INLINE void square_into(__m512d& acc, __m256 x) {
  const __m512d d = _mm512_cvtps_pd(x);
  acc = _mm512_add_pd(acc, _mm512_mul_pd(d, d));
}
KEEL_AVX512_INLINE __m256 high_half(__m512 x) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
}

// 32 elements at p: element j -> lane j (acc[j / 8], lane j % 8), as accumulate32.
template <bool kClamp>
KEEL_AVX512_INLINE void block32_avx512(const float* p, __m512d* acc, __m512d* cacc,
                                       int64_t* moved, __m512 lo, __m512 hi) {
  if constexpr (!kClamp) {
    square_into(acc[0], _mm256_loadu_ps(p));
    square_into(acc[1], _mm256_loadu_ps(p + 8));
    square_into(acc[2], _mm256_loadu_ps(p + 16));
    square_into(acc[3], _mm256_loadu_ps(p + 24));
  } else {
    for (int h = 0; h < 2; ++h) {
      const __m512 x = _mm512_loadu_ps(p + 16 * h);
      square_into(acc[2 * h], _mm512_castps512_ps256(x));
      square_into(acc[2 * h + 1], high_half(x));
      // x < -v ? -v : (x > v ? v : x); ordered compares, so NaN passes through unchanged.
      __m512 y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), x, hi);
      y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), y, lo);
      *moved += __builtin_popcount(static_cast<unsigned>(_mm512_cmp_ps_mask(y, x, _CMP_NEQ_UQ)));
      square_into(cacc[2 * h], _mm512_castps512_ps256(y));
      square_into(cacc[2 * h + 1], high_half(y));
    }
  }
}

KEEL_AVX512_INLINE double combine_avx512(const __m512d* acc) {
  const __m512d s = _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3]));
  double l[8];
  _mm512_storeu_pd(l, s);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

template <bool kClamp>
KEEL_AVX512_INLINE ChunkSums chunk_sums_avx512_body(const float* g, int64_t n, float v) {
  __m512d acc[4], cacc[4];
  for (int k = 0; k < 4; ++k) acc[k] = cacc[k] = _mm512_setzero_pd();
  const __m512 lo = _mm512_set1_ps(-v), hi = _mm512_set1_ps(v);
  int64_t moved = 0, i = 0;
  for (; i + 32 <= n; i += 32) block32_avx512<kClamp>(g + i, acc, cacc, &moved, lo, hi);
  if (i < n) {  // zero lanes add +0.0, which leaves a sum of squares unchanged
    float tail[32] = {};
    std::memcpy(tail, g + i, static_cast<size_t>(n - i) * sizeof(float));
    block32_avx512<kClamp>(tail, acc, cacc, &moved, lo, hi);
  }
  ChunkSums r;
  r.sum_squares = combine_avx512(acc);
  if constexpr (kClamp) {
    r.clamped_sum_squares = combine_avx512(cacc);
    r.clamped = moved;
  }
  return r;
}

__attribute__((target("avx512f"))) ChunkSums chunk_sums_avx512(const float* g, int64_t n,
                                                                float clamp) {
  return clamp > 0.0f ? chunk_sums_avx512_body<true>(g, n, clamp)
                      : chunk_sums_avx512_body<false>(g, n, 0.0f);
}
#endif

// Chosen once, on first use, by the CPU (never by the thread count).
using ChunkSumsFn = ChunkSums (*)(const float*, int64_t, float);
ChunkSumsFn pick_chunk_sums() {
#ifdef KEEL_HAVE_AVX512_SUMS
  if (__builtin_cpu_supports("avx512f")) return chunk_sums_avx512;
#endif
  return detail::chunk_sums_portable;
}
ChunkSums chunk_sums(const float* g, int64_t n, float clamp) {
  static const ChunkSumsFn fn = pick_chunk_sums();
  return fn(g, n, clamp);
}

// ---- gradient transforms ---------------------------------------------------------------------

// The clip transform of one element or one vector (the same expression on every lane).
template <ClipKind kKind, typename V>
KEEL_SIMD_INLINE V transform(V g, [[maybe_unused]] float a, [[maybe_unused]] float b) {
  if constexpr (kKind == ClipKind::kNorm) return (g * a) / b;
  if constexpr (kKind == ClipKind::kScale) return g * a;
  if constexpr (kKind == ClipKind::kClamp) return clamp(g, a);
  return g;
}

template <ClipKind kKind>
KEEL_SIMD_INLINE void transform_body(float* g, int64_t n, float a, float b) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(g + i, transform<kKind>(load(g + i), a, b));
  for (; i < n; ++i) g[i] = transform<kKind>(g[i], a, b);
}

KEEL_MULTIVERSION void transform_chunk(float* g, int64_t n, GradTransform t) {
  switch (t.kind) {
    case ClipKind::kNone: return;
    case ClipKind::kNorm: return transform_body<ClipKind::kNorm>(g, n, t.a, t.b);
    case ClipKind::kScale: return transform_body<ClipKind::kScale>(g, n, t.a, t.b);
    case ClipKind::kClamp: return transform_body<ClipKind::kClamp>(g, n, t.a, t.b);
  }
}

// ---- SGD ---------------------------------------------------------------------------------------

// One element (scalar or vector: the same expression on every lane), Keras's operand order.
template <SgdRule kRule, ClipKind kKind, typename V>
KEEL_SIMD_INLINE void sgd_element(V& w, V g, V& m, const SgdStep& s, [[maybe_unused]] float a,
                                 [[maybe_unused]] float b) {
  if (s.weight_decay) w = w - (w * s.wd) * s.lr;
  g = transform<kKind>(g, a, b);
  if constexpr (kRule == SgdRule::kPlain) {
    w = w - g * s.lr;
  } else if constexpr (kRule == SgdRule::kMomentum) {
    m = m * s.momentum - g * s.lr;
    w = w + m;
  } else {
    const V step = g * s.lr;
    m = m * s.momentum - step;
    w = w + (m * s.momentum - step);
  }
}

template <SgdRule kRule, ClipKind kKind>
KEEL_SIMD_INLINE void sgd_body(float* w, const float* g, float* m, int64_t n, const SgdStep& s,
                              float a, float b) {
  constexpr bool kSlot = kRule != SgdRule::kPlain;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    f32x16 wv = load(w + i), mv = kSlot ? load(m + i) : f32x16{};
    sgd_element<kRule, kKind>(wv, load(g + i), mv, s, a, b);
    store(w + i, wv);
    if constexpr (kSlot) store(m + i, mv);
  }
  for (; i < n; ++i) {
    float mi = kSlot ? m[i] : 0.0f;
    sgd_element<kRule, kKind>(w[i], g[i], mi, s, a, b);
    if constexpr (kSlot) m[i] = mi;
  }
}

template <SgdRule kRule>
KEEL_SIMD_INLINE void sgd_rule(float* w, const float* g, float* m, int64_t n, const SgdStep& s,
                              GradTransform t) {
  switch (t.kind) {
    case ClipKind::kNone: return sgd_body<kRule, ClipKind::kNone>(w, g, m, n, s, t.a, t.b);
    case ClipKind::kNorm: return sgd_body<kRule, ClipKind::kNorm>(w, g, m, n, s, t.a, t.b);
    case ClipKind::kScale: return sgd_body<kRule, ClipKind::kScale>(w, g, m, n, s, t.a, t.b);
    case ClipKind::kClamp: return sgd_body<kRule, ClipKind::kClamp>(w, g, m, n, s, t.a, t.b);
  }
}

KEEL_MULTIVERSION void sgd_chunk(float* w, const float* g, float* m, int64_t n,
                                 const SgdStep& step, GradTransform t) {
  const SgdStep s = step;  // a local copy: stores to w and m cannot alias it, so no reloads
  switch (s.rule) {
    case SgdRule::kPlain: return sgd_rule<SgdRule::kPlain>(w, g, m, n, s, t);
    case SgdRule::kMomentum: return sgd_rule<SgdRule::kMomentum>(w, g, m, n, s, t);
    case SgdRule::kNesterov: return sgd_rule<SgdRule::kNesterov>(w, g, m, n, s, t);
  }
}

// Calls body(c) for every chunk c. With several threads, thread t of T takes the chunks whose
// first element lies in the t-th of T equal shares of all elements: equal work (a static split
// by chunk count gave one thread 2/3 of the seed model, whose chunks are 8192 elements in the big
// kernel and a few in the biases), and the norm pass and the update pass give each thread the same
// chunks, so the update finds its gradients in its own core's L2. Each chunk is handled whole by
// one thread, so results do not depend on the split.
template <typename Body>
void for_each_chunk(std::span<const ParamChunk> chunks, const Body& body) {
  const auto count = static_cast<int64_t>(chunks.size());
  const int64_t total = count == 0 ? 0 : chunks.back().offset + chunks.back().size;
  if (count < 2 || total < kParallelMinElements || omp_get_max_threads() < 2) {
    for (int64_t c = 0; c < count; ++c) body(c);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t lo = total * t / threads, hi = total * (t + 1) / threads;
    for (int64_t c = 0; c < count; ++c)
      if (chunks[c].offset >= lo && chunks[c].offset < hi) body(c);
  }
}

}  // namespace

std::vector<ParamChunk> split_into_chunks(std::span<const int64_t> sizes) {
  std::vector<ParamChunk> chunks;
  int64_t offset = 0;
  for (size_t v = 0; v < sizes.size(); ++v) {
    for (int64_t b = 0; b < sizes[v]; b += kOptimizerChunk) {
      const int64_t left = sizes[v] - b, size = left < kOptimizerChunk ? left : kOptimizerChunk;
      chunks.push_back({static_cast<int64_t>(v), b, size, offset});
      offset += size;
    }
  }
  return chunks;
}

void gradient_chunk_sums(const float* const* grads, std::span<const ParamChunk> chunks,
                         float clamp, ChunkSums* out) {
  for_each_chunk(chunks, [&](int64_t c) {
    const ParamChunk& ch = chunks[c];
    out[c] = chunk_sums(grads[ch.var] + ch.begin, ch.size, clamp);
  });
}

void gradient_chunk_sums_ref(const float* const* grads, std::span<const ParamChunk> chunks,
                             float clamp, ChunkSums* out) {
  for (size_t c = 0; c < chunks.size(); ++c) {
    const float* g = grads[chunks[c].var] + chunks[c].begin;
    double acc[32] = {}, cacc[32] = {};
    int64_t moved = 0;
    for (int64_t j = 0; j < chunks[c].size; ++j) {
      acc[j % 32] += static_cast<double>(g[j]) * g[j];
      if (clamp > 0.0f) {
        const float x = g[j];
        const float y = x < -clamp ? -clamp : (x > clamp ? clamp : x);
        moved += y != x;
        cacc[j % 32] += static_cast<double>(y) * y;
      }
    }
    auto combine_ref = [](const double* a) {
      double s[8];
      for (int l = 0; l < 8; ++l) s[l] = (a[l] + a[8 + l]) + (a[16 + l] + a[24 + l]);
      return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    };
    out[c] = {combine_ref(acc), clamp > 0.0f ? combine_ref(cacc) : 0.0, moved};
  }
}

double sum_squares(const float* g, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kOptimizerChunk)
    total += chunk_sums(g + b, n - b < kOptimizerChunk ? n - b : kOptimizerChunk, 0.0f).sum_squares;
  return total;
}

void apply_grad_transforms(float* const* grads, const GradTransform* transforms,
                           std::span<const ParamChunk> chunks) {
  for_each_chunk(chunks, [&](int64_t c) {
    const ParamChunk& ch = chunks[c];
    transform_chunk(grads[ch.var] + ch.begin, ch.size, transforms[ch.var]);
  });
}

// The loops clipping.cpp ran before the fusion, kept as the reference.
void apply_grad_transform_ref(float* g, int64_t n, GradTransform t) {
  switch (t.kind) {
    case ClipKind::kNone: return;
    case ClipKind::kNorm:
      for (int64_t i = 0; i < n; ++i) g[i] = (g[i] * t.a) / t.b;
      return;
    case ClipKind::kScale:
      for (int64_t i = 0; i < n; ++i) g[i] *= t.a;
      return;
    case ClipKind::kClamp:
      for (int64_t i = 0; i < n; ++i) {
        const float x = g[i];
        g[i] = x < -t.a ? -t.a : (x > t.a ? t.a : x);
      }
      return;
  }
}

void sgd_update(const SgdVar* vars, std::span<const ParamChunk> chunks, const SgdStep& step) {
  for_each_chunk(chunks, [&](int64_t c) {
    const ParamChunk& ch = chunks[c];
    const SgdVar& v = vars[ch.var];
    sgd_chunk(v.w + ch.begin, v.g + ch.begin, v.m ? v.m + ch.begin : nullptr, ch.size, step,
              v.clip);
  });
}

// The loops optimizer.cpp (weight decay) and sgd.cpp ran before the fusion, kept as the reference.
void sgd_update_ref(float* w, const float* g, float* m, int64_t n, const SgdStep& s) {
  if (s.weight_decay) {
    for (int64_t i = 0; i < n; ++i) w[i] -= w[i] * s.wd * s.lr;
  }
  const float lr = s.lr, mu = s.momentum;
  if (s.rule == SgdRule::kPlain) {
    for (int64_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
  } else if (s.rule == SgdRule::kNesterov) {
    for (int64_t i = 0; i < n; ++i) {
      const float step = g[i] * lr;
      m[i] = m[i] * mu - step;
      w[i] += m[i] * mu - step;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i];
    }
  }
}

}  // namespace keel
