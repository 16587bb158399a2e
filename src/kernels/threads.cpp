#include "keel/kernels/threads.h"

#include <omp.h>

#include "keel/core/error.h"

namespace keel {

void set_num_threads(int n) {
  KEEL_CHECK(n >= 1, "set_num_threads: thread count ", n, " must be >= 1");
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace keel
