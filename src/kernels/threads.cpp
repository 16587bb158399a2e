#include "keel/kernels/threads.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>

#include "keel/core/error.h"

namespace keel {

namespace {
std::atomic<bool> fixed_by_call{false};
}

void set_num_threads(int n) {
  KEEL_CHECK(n >= 1, "set_num_threads: thread count ", n, " must be >= 1");
  omp_set_num_threads(n);
  fixed_by_call = true;
}

void set_default_num_threads(int n) {
  KEEL_CHECK(n >= 1, "set_default_num_threads: thread count ", n, " must be >= 1");
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

bool threads_are_fixed() {
  static const bool from_environment = std::getenv("OMP_NUM_THREADS") != nullptr;
  return fixed_by_call || from_environment;
}

}  // namespace keel
