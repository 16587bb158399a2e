// The data pipeline's inner loop: shuffled rows of a uint8 dataset converted to float.
#pragma once

#include <cstdint>

namespace keel {

// src: (rows of `width` uint8) dataset; rows: (n) indices into it, or nullptr for rows
// first..first+n-1; dst: (n, width) = src[row] * scale. Splits the rows over the OpenMP threads
// for large batches: a shuffled row is a cache (and TLB) miss, so two cores keep twice as many
// loads in flight. Elementwise, so the result never depends on the thread count.
void gather_rows_u8(const uint8_t* src, const int64_t* rows, int64_t first, int64_t n,
                    int64_t width, float scale, float* dst);

}  // namespace keel
