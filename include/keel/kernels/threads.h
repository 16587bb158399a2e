// Thread count for every parallel kernel: OpenMP loops in keel's kernels and oneDNN's primitives
// (Debian's oneDNN 2.6 is built with the OpenMP runtime, so both follow the same setting).
//
// Results never depend on this number: every reduction is done by one thread in a fixed order
// (see batch_norm.h, bias.h) and GEMM primitives are cached per thread count (see gemm.h).
#pragma once

namespace keel {

// n >= 1; throws keel::Error otherwise. Applies to parallel regions started from the calling thread.
// The count is then fixed: the ThreadGovernor (thread_governor.h) no longer adapts it to the load.
void set_num_threads(int n);
int num_threads();

// A default the governor may still lower while other processes keep cores busy (the data-parallel
// CLI's share of the node's cores per rank). Same range and error as set_num_threads.
void set_default_num_threads(int n);

// True once set_num_threads was called, or when OMP_NUM_THREADS is set in the environment.
bool threads_are_fixed();

}  // namespace keel
