// When a memory-bound kernel runs on more than one thread (private to src/kernels).
#pragma once

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

}  // namespace keel
