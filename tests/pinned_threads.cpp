// Linked into every test binary: pins the thread count for the whole process and every process it
// starts (keel, mpirun, the examples inherit OMP_NUM_THREADS). Without it keel's default thread
// count adapts to the machine's load (keel/kernels/thread_governor.h), and on CPUs without AVX-512
// oneDNN's matmul rounds differently per thread count: a test that trains twice and compares the
// bits, or counts allocations after the first step (a new count builds new primitives), would
// fail whenever the load changed between the two. The governor itself is tested with a scripted
// machine and, in BusyMachineCli, with this variable removed for the child it starts.
#include <cstdlib>
#include <string>

#include "keel/kernels/threads.h"

namespace {
const bool pinned = [] {
  const int threads = keel::num_threads();
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), /*overwrite=*/0);
  keel::set_num_threads(threads);
  return true;
}();
}  // namespace
