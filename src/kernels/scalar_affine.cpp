#include "keel/kernels/scalar_affine.h"

namespace keel {

void scalar_affine_forward(const float* x, float* y, int64_t n, float scale, float shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = scale * x[i] + shift;
}

void scalar_affine_backward(const float* x, const float* dy, float* dx, int64_t n, float scale,
                            double* dscale, double* dshift) {
  // The sums first: dx may overwrite dy.
  if (dscale != nullptr) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * dy[i];
    *dscale = s;
  }
  if (dshift != nullptr) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += dy[i];
    *dshift = s;
  }
  if (dx != nullptr)
    for (int64_t i = 0; i < n; ++i) dx[i] = scale * dy[i];
}

}  // namespace keel
