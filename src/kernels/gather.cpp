#include "keel/kernels/gather.h"

#include "dispatch.h"
#include "parallel.h"

namespace keel {

namespace {
KEEL_MULTIVERSION void convert_row(const uint8_t* __restrict src, int64_t width, float scale,
                                   float* __restrict dst) {
  for (int64_t j = 0; j < width; ++j) dst[j] = static_cast<float>(src[j]) * scale;
}
}  // namespace

void gather_rows_u8(const uint8_t* src, const int64_t* rows, int64_t first, int64_t n,
                    int64_t width, float scale, float* dst) {
#pragma omp parallel for schedule(static) if (n * width >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = rows != nullptr ? rows[first + i] : first + i;
    convert_row(src + row * width, width, scale, dst + i * width);
  }
}

}  // namespace keel
