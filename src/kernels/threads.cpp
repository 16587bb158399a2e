#include "keel/kernels/threads.h"

#include <omp.h>
#include <unistd.h>

#include <cstdlib>

#include "keel/core/error.h"

namespace keel {

void use_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("KEEL_KEEP_OMP_WAIT_POLICY") != nullptr)
    return;
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  ::execv("/proc/self/exe", argv);
  // execv only returns on failure (e.g. no /proc): run on with the default policy.
}


void set_num_threads(int n) {
  KEEL_CHECK(n >= 1, "set_num_threads: thread count ", n, " must be >= 1");
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace keel
