#include "keel/kernels/matvec.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "dispatch.h"

namespace keel {

namespace {

// The block loop is written once for any GCC vector type V (no intrinsics) and compiled per ISA,
// picked once from cpuid: 16 floats (one zmm) with AVX-512, 8 (one ymm) with AVX2 — there a
// 64-byte vector's accumulator store went through the stack and the loop ran at a quarter of the
// ymm speed — and 16 as four xmm on baseline x86-64. Lanes are columns and every column adds its
// rows in order, so every ISA gives the same bits.
typedef float F32x16 __attribute__((vector_size(64)));
typedef float F32x8 __attribute__((vector_size(32)));
constexpr int64_t kLanes = 16;  // the widest vector: the unit of the threads' column split
// Columns per block: the block's accumulators (2 KB) stay in L1 while all k rows stream past.
constexpr int64_t kBlockLanes = 32 * kLanes;
// Rows per step: each accumulator is loaded and stored once per 8 rows of W, and 8 rows stream
// at once (784×300 on one core: 10.7 µs with 4 rows, 9.5 µs with 8; 16 rows is no faster).
constexpr int64_t kRowUnroll = 8;

// By reference, not by value: a vector argument changes the ABI between ISAs.
template <class V>
[[gnu::always_inline]] inline void load(V& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
template <class V>
[[gnu::always_inline]] inline void splat(V& v, float s) {
  v = V{} + s;
}
// Below this many multiply-adds one thread is faster than waking a second one. One thread reads
// W from L2 at ~95 GB/s; an OpenMP fork + join costs ~0.7 µs on the 2-core test machine. The
// seed's 784×300 layer (235k, 10.4 µs alone) gains ~4 µs from two threads; its 300×100 layer
// (30k, 1.5 µs) gains nothing idle and loses when the other core is busy.
constexpr int64_t kParallelMinMacs = int64_t{1} << 17;

// y[c0, c0 + width) of y = / += x·W, width <= kBlockLanes. Rows of W are read as whole vectors;
// a last partial vector reads past the block into the next row of W (same array, discarded
// lanes), except on the final rows where that would leave W: those go lane by lane.
template <class V>
[[gnu::always_inline]] inline void matvec_block_t(const float* x, const float* w, float* y,
                                                  int64_t k, int64_t n, int64_t c0,
                                                  int64_t width, bool accumulate) {
  constexpr auto lanes = static_cast<int64_t>(sizeof(V) / sizeof(float));
  alignas(64) float acc[kBlockLanes];
  const int64_t vecs = (width + lanes - 1) / lanes, padded = vecs * lanes;
  for (int64_t j = 0; j < width; ++j) acc[j] = accumulate ? y[c0 + j] : 0.0f;
  for (int64_t j = width; j < padded; ++j) acc[j] = 0.0f;
  // Rows p with p·n + c0 + padded <= k·n can be read as whole vectors.
  const int64_t end = k * n - c0 - padded;
  const int64_t safe_rows = end < 0 ? 0 : std::min(k, end / n + 1);
  int64_t p = 0;
  for (; p + kRowUnroll <= safe_rows; p += kRowUnroll) {
    const float* r = w + p * n + c0;
    V b0, b1, b2, b3, b4, b5, b6, b7;
    splat(b0, x[p]);
    splat(b1, x[p + 1]);
    splat(b2, x[p + 2]);
    splat(b3, x[p + 3]);
    splat(b4, x[p + 4]);
    splat(b5, x[p + 5]);
    splat(b6, x[p + 6]);
    splat(b7, x[p + 7]);
    for (int64_t v = 0; v < padded; v += lanes) {
      V a, t;
      load(a, acc + v);
      // One statement per row: the adds stay in row order.
      load(t, r + v);
      a += b0 * t;
      load(t, r + n + v);
      a += b1 * t;
      load(t, r + 2 * n + v);
      a += b2 * t;
      load(t, r + 3 * n + v);
      a += b3 * t;
      load(t, r + 4 * n + v);
      a += b4 * t;
      load(t, r + 5 * n + v);
      a += b5 * t;
      load(t, r + 6 * n + v);
      a += b6 * t;
      load(t, r + 7 * n + v);
      a += b7 * t;
      std::memcpy(acc + v, &a, sizeof a);
    }
  }
  for (; p < safe_rows; ++p) {
    const float* r = w + p * n + c0;
    V b;
    splat(b, x[p]);
    for (int64_t v = 0; v < padded; v += lanes) {
      V a, t;
      load(a, acc + v);
      load(t, r + v);
      a += b * t;
      std::memcpy(acc + v, &a, sizeof a);
    }
  }
  for (; p < k; ++p) {
    const float xp = x[p];
    const float* r = w + p * n + c0;
    for (int64_t j = 0; j < width; ++j) acc[j] += xp * r[j];
  }
  std::memcpy(y + c0, acc, static_cast<size_t>(width) * sizeof(float));
}

#if defined(KEEL_PER_ISA)
[[gnu::target("avx512f")]] void matvec_block_avx512(const float* x, const float* w, float* y,
                                                    int64_t k, int64_t n, int64_t c0,
                                                    int64_t width, bool accumulate) {
  matvec_block_t<F32x16>(x, w, y, k, n, c0, width, accumulate);
}
[[gnu::target("avx2")]] void matvec_block_avx2(const float* x, const float* w, float* y,
                                               int64_t k, int64_t n, int64_t c0, int64_t width,
                                               bool accumulate) {
  matvec_block_t<F32x8>(x, w, y, k, n, c0, width, accumulate);
}
void matvec_block_baseline(const float* x, const float* w, float* y, int64_t k, int64_t n,
                           int64_t c0, int64_t width, bool accumulate) {
  matvec_block_t<F32x16>(x, w, y, k, n, c0, width, accumulate);
}
void matvec_block(const float* x, const float* w, float* y, int64_t k, int64_t n, int64_t c0,
                  int64_t width, bool accumulate) {
  const VectorIsa isa = vector_isa();
  if (isa == VectorIsa::kAvx512) return matvec_block_avx512(x, w, y, k, n, c0, width, accumulate);
  if (isa == VectorIsa::kAvx2) return matvec_block_avx2(x, w, y, k, n, c0, width, accumulate);
  matvec_block_baseline(x, w, y, k, n, c0, width, accumulate);
}
#else
void matvec_block(const float* x, const float* w, float* y, int64_t k, int64_t n, int64_t c0,
                  int64_t width, bool accumulate) {
  matvec_block_t<F32x16>(x, w, y, k, n, c0, width, accumulate);
}
#endif

void matvec_columns(const float* x, const float* w, float* y, int64_t k, int64_t n, int64_t j0,
                    int64_t j1, bool accumulate) {
  for (int64_t c = j0; c < j1; c += kBlockLanes) {
    matvec_block(x, w, y, k, n, c, std::min(kBlockLanes, j1 - c), accumulate);
  }
}

}  // namespace

void matvec_serial(const float* x, const float* w, float* y, int64_t k, int64_t n,
                   bool accumulate) {
  if (n <= 0) return;
  if (k <= 0) {
    if (!accumulate) std::fill_n(y, n, 0.0f);
    return;
  }
  matvec_columns(x, w, y, k, n, 0, n, accumulate);
}

void matvec(const float* x, const float* w, float* y, int64_t k, int64_t n, bool accumulate) {
  const int64_t vecs = (n + kLanes - 1) / kLanes;
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), vecs));
  if (threads <= 1 || k * n < kParallelMinMacs || omp_in_parallel()) {
    return matvec_serial(x, w, y, k, n, accumulate);
  }
  // Each thread owns a contiguous range of whole 16-column vectors, so it streams only its part
  // of every row of W and keeps that part in its own L2 across calls. Rounded up, so the calling
  // thread (which starts ~0.3 µs before a woken one) gets the larger share and the last thread the
  // partial vector: 784×300 on 2 threads takes 160 + 140 columns.
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t v0 = (vecs * t + nt - 1) / nt, v1 = (vecs * (t + 1) + nt - 1) / nt;
    matvec_columns(x, w, y, k, n, v0 * kLanes, std::min(n, v1 * kLanes), accumulate);
  }
}

}  // namespace keel
