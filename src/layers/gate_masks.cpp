#include "keel/layers/gate_masks.h"

#include <algorithm>
#include <cstring>

#include "keel/kernels/gemm.h"

namespace keel {

void GateMasks::sample(Rng& rng, double rate, int64_t mask_rows, int64_t width, int64_t gates,
                       int64_t units, const float* w) {
  active_ = true;
  rows_ = mask_rows;
  width_ = width;
  gates_ = gates;
  units_ = units;
  const auto r = static_cast<float>(rate);
  const auto keep = static_cast<float>(1.0 / (1.0 - rate));
  float* m = masks_.ensure(gates * mask_rows * width);
  for (int64_t i = 0; i < gates * mask_rows * width; ++i) m[i] = rng.uniform() >= r ? keep : 0.0f;
  float* p = packed_.ensure(gates * width * units);
  for (int64_t g = 0; g < gates; ++g) {
    for (int64_t i = 0; i < width; ++i) {
      std::memcpy(p + (g * width + i) * units, w + i * gates * units + g * units,
                  static_cast<size_t>(units) * sizeof(float));
    }
  }
}

const float* GateMasks::masked(const float* a, int64_t rows, int64_t g) {
  float* out = masked_.ensure(rows * width_);
  const float* m = mask(g);
  for (int64_t r = 0; r < rows; ++r) {
    const float* mr = m + (r % rows_) * width_;
    const float* ar = a + r * width_;
    float* o = out + r * width_;
    for (int64_t j = 0; j < width_; ++j) o[j] = ar[j] * mr[j];
  }
  return out;
}

const float* GateMasks::gather(const float* d, int64_t d_stride, int64_t rows, int64_t column) {
  float* out = block_.ensure(rows * units_);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(out + r * units_, d + r * d_stride + column,
                static_cast<size_t>(units_) * sizeof(float));
  }
  return out;
}

void GateMasks::forward(const float* a, int64_t rows, int64_t g0, int64_t n, float* out,
                        int64_t out_stride, bool accumulate) {
  float* p = product_.ensure(rows * std::max(units_, width_));
  for (int64_t g = g0; g < g0 + n; ++g) {
    gemm(masked(a, rows, g), packed_.data() + g * width_ * units_, p, rows, units_, width_, false,
         false, false);
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out + r * out_stride + (g - g0) * units_;
      const float* pr = p + r * units_;
      for (int64_t j = 0; j < units_; ++j) o[j] = accumulate ? o[j] + pr[j] : pr[j];
    }
  }
}

void GateMasks::backward_operand(const float* d, int64_t d_stride, int64_t rows, int64_t g0,
                                 int64_t n, float* da, bool accumulate) {
  float* p = product_.ensure(rows * std::max(units_, width_));
  if (!accumulate) std::fill_n(da, rows * width_, 0.0f);
  for (int64_t g = g0; g < g0 + n; ++g) {
    gemm(gather(d, d_stride, rows, (g - g0) * units_), packed_.data() + g * width_ * units_, p,
         rows, width_, units_, false, true, false);
    const float* m = mask(g);
    for (int64_t r = 0; r < rows; ++r) {
      const float* mr = m + (r % rows_) * width_;
      const float* pr = p + r * width_;
      float* o = da + r * width_;
      for (int64_t j = 0; j < width_; ++j) o[j] += pr[j] * mr[j];
    }
  }
}

void GateMasks::backward_weights(const float* a, const float* d, int64_t d_stride, int64_t rows,
                                 int64_t g0, int64_t n, float* dw, int64_t dw_stride,
                                 bool accumulate) {
  float* p = product_.ensure(std::max(rows, width_) * std::max(units_, width_));
  for (int64_t g = g0; g < g0 + n; ++g) {
    const float* block = gather(d, d_stride, rows, (g - g0) * units_);
    gemm(masked(a, rows, g), block, p, width_, units_, rows, true, false, false);
    for (int64_t i = 0; i < width_; ++i) {
      float* o = dw + i * dw_stride + g * units_;
      const float* pr = p + i * units_;
      for (int64_t j = 0; j < units_; ++j) o[j] = accumulate ? o[j] + pr[j] : pr[j];
    }
  }
}

}  // namespace keel
