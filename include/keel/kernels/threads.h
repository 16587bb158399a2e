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

// libgomp reads OMP_WAIT_POLICY once, when it is loaded (before main). Its default spins at every
// barrier, and a training step has ~20 small parallel regions (oneDNN and keel kernels): on a
// machine where another process wants a core, a spinning thread holds it while its partner is
// descheduled. Measured on this 2-core machine with a build running: 3,605 samples/s (default) vs
// 37,529 (passive) at batch 32. Programs call this first thing in main(): if the user has not
// chosen a policy it re-executes the program once with OMP_WAIT_POLICY=passive (no-op otherwise,
// and when KEEL_KEEP_OMP_WAIT_POLICY is set). Returns only when no re-exec happened.
void use_passive_openmp_wait(char** argv);

}  // namespace keel
