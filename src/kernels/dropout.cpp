#include "keel/kernels/dropout.h"

namespace keel {

void dropout_forward(const float* x, const uint8_t* mask, float scale, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = mask[i] ? x[i] * scale : 0.0f;
}

void dropout_backward(const float* dy, const uint8_t* mask, float scale, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

}  // namespace keel
