// When a memory-bound kernel runs on more than one thread (private to src/kernels).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace keel {

// Elements below which a kernel stays on the calling thread. Waking the OpenMP team and joining it
// costs a few µs, and a region waits for its slowest thread, so small passes lose by going
// parallel. 2^16: at batch 256 the seed model's BN(784), BN(300) and Dense(300) passes
// (200k and 77k elements) use both cores; at batch 32 (at most 25k) everything stays on one.
// Raising it to 2^18 cost ~15% of batch-256 training throughput on a quiet machine (docs/BENCHMARKS.md).
// The split never changes a result: reductions are per channel/column block, each summed by one
// thread in a fixed order.
constexpr int64_t kParallelMinElements = int64_t{1} << 16;

// [begin, end) of a static split of [0, n) in whole granules, for the calling thread of the
// current OpenMP team (the whole range outside a parallel region).
struct Range {
  int64_t begin, end;
};
inline Range thread_share(int64_t n, int64_t granule) {
  const int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
  const int64_t units = (n + granule - 1) / granule;
  return {std::min(n, units * t / threads * granule), std::min(n, units * (t + 1) / threads * granule)};
}

// Column ranges go to threads in 16-wide groups (one float vector): at 300 columns two threads get
// 160 + 140, where handing out whole 64-wide blocks gave 192 + 108.
constexpr int64_t kColumnGranule = 16;

// f(c0, w) over blocks [c0, c0 + w) of at most `block` columns covering r.
template <typename F>
void for_each_block(Range r, int64_t block, const F& f) {
  for (int64_t c0 = r.begin; c0 < r.end; c0 += block) f(c0, std::min(block, r.end - c0));
}

// Per-column reductions over (rows, cols): f(c0, w) on this thread's column blocks, the columns
// spread over the team when `parallel`. Each column is summed by one thread in row order, so the
// split never changes a result. Only for passes that write nothing row-sized: two threads writing
// different columns of the same rows share a cache line at every row (1,200-byte rows at 300
// columns), and the line bouncing between the cores cost more than the second core saved
// (BN(300) backward: 28 µs for the dx pass on two threads vs 11 on one). Row-sized outputs are
// written by row ranges (thread_share(rows, 1)) instead.
// Whether a (rows, cols) output at `out` may be written by column blocks: on one thread, or when
// every thread's columns start on a cache line in every row (cols a multiple of the granule,
// 64-byte aligned rows). Otherwise write it by row ranges.
inline bool column_blocks_own_their_lines(const float* out, int64_t cols, bool parallel) {
  return !parallel ||
         (cols % kColumnGranule == 0 && reinterpret_cast<uintptr_t>(out) % 64 == 0);
}

// f(begin, end) over [0, n) for an element-wise pass (each output element depends only on the
// same element of the inputs, so the split never changes a result): the calling thread alone below
// kParallelMinElements, otherwise each thread of the team its share in whole 16-float granules
// (one cache line when the arrays are 64-byte aligned, so no two threads write the same line).
template <typename F>
void for_each_element_range(int64_t n, const F& f) {
  if (n < kParallelMinElements) return f(int64_t{0}, n);
#pragma omp parallel
  {
    const Range r = thread_share(n, kColumnGranule);
    if (r.begin < r.end) f(r.begin, r.end);
  }
}

template <typename F>
void for_each_column_block(int64_t cols, int64_t block, bool parallel, const F& f) {
#pragma omp parallel if (parallel && cols > kColumnGranule)
  for_each_block(thread_share(cols, kColumnGranule), block, f);
}

}  // namespace keel
