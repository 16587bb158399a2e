#include "keel/kernels/permute.h"

#include <array>
#include <cassert>
#include <cstddef>

namespace keel {

void permute(const float* x, float* y, const int64_t* dims, const int* perm, int rank) {
  assert(rank >= 1 && rank <= 8);
  std::array<int64_t, 8> x_stride{}, out_dims{}, step{}, index{};
  int64_t total = 1;
  for (int k = rank - 1; k >= 0; --k) {
    x_stride[std::size_t(k)] = total;
    total *= dims[k];
  }
  for (int k = 0; k < rank; ++k) {
    out_dims[std::size_t(k)] = dims[perm[k]];
    step[std::size_t(k)] = x_stride[std::size_t(perm[k])];
  }
  // Walk y in order; `from` follows the matching x offset (odometer over the output index).
  int64_t from = 0;
  for (int64_t i = 0; i < total; ++i) {
    y[i] = x[from];
    for (int k = rank - 1; k >= 0; --k) {
      const auto kk = std::size_t(k);
      from += step[kk];
      if (++index[kk] < out_dims[kk]) break;
      from -= step[kk] * out_dims[kk];
      index[kk] = 0;
    }
  }
}

}  // namespace keel
