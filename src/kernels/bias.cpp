#include "keel/kernels/bias.h"

#include <algorithm>

#include "keel/kernels/activations.h"

namespace keel {

namespace {
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMinElements = int64_t{1} << 15;
// Column block for reductions: 64 double accumulators live on the stack (no allocation).
constexpr int64_t kColumnBlock = 64;
}  // namespace

void bias_activation_forward(float* z, const float* bias, float* y, int64_t rows, int64_t cols,
                             ActivationKind kind) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict zr = z + r * cols;
    if (bias != nullptr) {
      const float* __restrict b = bias;
      for (int64_t j = 0; j < cols; ++j) zr[j] += b[j];
    }
    activation_forward(kind, zr, y + r * cols, 1, cols);
  }
}

void bias_activation_forward_ref(float* z, const float* bias, float* y, int64_t rows,
                                 int64_t cols, ActivationKind kind) {
  if (bias != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < cols; ++j) z[r * cols + j] += bias[j];
    }
  }
  activation_forward(kind, z, y, rows, cols);
}

void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols) {
  const int64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, cols - j0);
    double acc[kColumnBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* __restrict row = dy + r * cols + j0;
      for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
    }
    for (int64_t j = 0; j < width; ++j) dbias[j0 + j] += static_cast<float>(acc[j]);
  }
}

void bias_backward_ref(const float* dy, float* dbias, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += dy[r * cols + j];
    dbias[j] += static_cast<float>(sum);
  }
}

}  // namespace keel
