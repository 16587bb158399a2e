#include "keel/model/data_view.h"

#include <algorithm>
#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/gather.h"

namespace keel {

DataView DataView::of(const Tensor& x) {
  KEEL_CHECK(x.rank() >= 1, "input array must have at least one dimension (the samples)");
  DataView view;
  view.size = x.dim(0);
  view.sample_dims.assign(x.dims().begin() + 1, x.dims().end());
  view.x_float = x.data();
  return view;
}

DataView DataView::of(const Tensor& x, const Tensor& y) {
  DataView view = of(x);
  KEEL_CHECK(y.rank() >= 1 && y.dim(0) == x.dim(0), "x holds ", x.dim(0),
             " samples but y holds ", y.rank() >= 1 ? y.dim(0) : 0,
             "; both arrays need the same number of samples");
  view.y_float = y.data();
  view.y_width = y.row_size();
  return view;
}

int64_t DataView::x_width() const {
  int64_t n = 1;
  for (int64_t d : sample_dims) n *= d;
  return n;
}

DataView DataView::slice(int64_t begin, int64_t end) const {
  KEEL_CHECK(0 <= begin && begin <= end && end <= size, "sample range [", begin, ", ", end,
             ") is outside [0, ", size, ")");
  DataView view = *this;
  view.size = end - begin;
  const int64_t xw = x_width();
  if (x_float) view.x_float = x_float + begin * xw;
  if (x_uint8) view.x_uint8 = x_uint8 + begin * xw;
  if (y_float) view.y_float = y_float + begin * y_width;
  if (y_uint8) view.y_uint8 = y_uint8 + begin * y_width;
  return view;
}

void DataView::prefetch(const int64_t* indices, int64_t first, int64_t n) const {
  constexpr int64_t kLine = 64;
  const int64_t xw = x_width();
  const auto* base = x_uint8 != nullptr ? reinterpret_cast<const char*>(x_uint8)
                                        : reinterpret_cast<const char*>(x_float);
  if (base == nullptr) return;
  const int64_t row_bytes = xw * (x_uint8 != nullptr ? 1 : static_cast<int64_t>(sizeof(float)));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = indices ? indices[first + i] : first + i;
    const char* row = base + s * row_bytes;
    for (int64_t b = 0; b < row_bytes; b += kLine) __builtin_prefetch(row + b, 0, 3);
  }
}

void DataView::gather(const int64_t* indices, int64_t first, int64_t n, float* x_out,
                      float* y_out) const {
  const int64_t xw = x_width();
  if (x_uint8 != nullptr) {
    gather_rows_u8(x_uint8, indices, first, n, xw, x_scale, x_out);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t s = indices ? indices[first + i] : first + i;
      std::memcpy(x_out + i * xw, x_float + s * xw, static_cast<size_t>(xw) * sizeof(float));
    }
  }
  if (y_out == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = indices ? indices[first + i] : first + i;
    if (y_uint8) {
      for (int64_t j = 0; j < y_width; ++j) y_out[i * y_width + j] = y_uint8[s * y_width + j];
    } else if (y_float) {
      std::memcpy(y_out + i * y_width, y_float + s * y_width,
                  static_cast<size_t>(y_width) * sizeof(float));
    }
  }
}

}  // namespace keel
