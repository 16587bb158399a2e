// Thread count for every parallel kernel: OpenMP loops in keel's kernels and oneDNN's primitives
// (Debian's oneDNN 2.6 is built with the OpenMP runtime, so both follow the same setting).
//
// Results never depend on this number: every reduction is done by one thread in a fixed order
// (see batch_norm.h, bias.h) and GEMM primitives are cached per thread count (see gemm.h).
#pragma once

namespace keel {

// n >= 1; throws keel::Error otherwise. Applies to parallel regions started from the calling thread.
void set_num_threads(int n);
int num_threads();

}  // namespace keel
