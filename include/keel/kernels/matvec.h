// Matrix-vector product y = x·W for one sample: the m == 1 case of gemm (single-sample predict).
//
// A oneDNN matmul has a fixed per-call cost of several µs, which would dominate a single-sample
// predict, and a batch-1 Dense layer is bound by reading W once: 784×300 floats = 940 KB for the
// seed model's first layer. The kernel therefore streams whole rows of W (contiguous in memory)
// and keeps a block of output accumulators, instead of walking W column-tile by column-tile.
//
// Bits: every y[j] is (((init + x[0]·W[0][j]) + x[1]·W[1][j]) + ...) + x[k-1]·W[k-1][j], one
// multiply and one add per term (no FMA, see src/kernels/dispatch.h), init = 0 or the old y[j].
// That order does not depend on the column blocking, the ISA clone or the thread count, so the
// result is the same whatever the number of threads.
#pragma once

#include <cstdint>

namespace keel {

// x: (k)        one input row
// w: (k, n)     row-major (a Dense kernel (fan_in, units))
// y: (n)        overwritten, or accumulated into (y += x·W) when accumulate; must not alias x, w
// Splits the columns over the OpenMP threads when k·n is large enough to repay the fork.
void matvec(const float* x, const float* w, float* y, int64_t k, int64_t n, bool accumulate);

// Same contract, always on the calling thread (for tests and for callers already in a region).
void matvec_serial(const float* x, const float* w, float* y, int64_t k, int64_t n,
                   bool accumulate);

}  // namespace keel
