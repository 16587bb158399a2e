// Axis permutation of a contiguous row-major tensor (a transpose in N dimensions).
#pragma once

#include <cstdint>

namespace keel {

// x: dims[0..rank) row-major; y: (dims[perm[0]], ..., dims[perm[rank-1]]) row-major, written with
// y[i_0, ..., i_{r-1}] = x[j] where j_{perm[k]} = i_k. rank <= 8; y must not alias x.
void permute(const float* x, float* y, const int64_t* dims, const int* perm, int rank);

}  // namespace keel
