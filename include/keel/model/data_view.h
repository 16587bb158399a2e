// DataView: a non-owning view of (x, y) samples that fit / evaluate / predict gather batches from.
//
// Features are float32 or uint8 (scaled on the fly, e.g. pixels * 1/255), so the training set can
// stay uint8 in memory (4x less than floats) and the uint8 -> float conversion is fused with the
// shuffled gather. Labels are float32 or uint8 (class ids), or absent for predict.
#pragma once

#include <cstdint>
#include <vector>

#include "keel/core/tensor.h"

namespace keel {

struct DataView {
  int64_t size = 0;                 // number of samples
  std::vector<int64_t> sample_dims;  // per-sample feature dims, e.g. {28, 28}
  const float* x_float = nullptr;    // (size, x_width) or
  const uint8_t* x_uint8 = nullptr;  // (size, x_width), multiplied by x_scale
  float x_scale = 1.0f;
  const float* y_float = nullptr;    // (size, y_width) or
  const uint8_t* y_uint8 = nullptr;  // (size, y_width)
  int64_t y_width = 0;

  static DataView of(const Tensor& x);
  static DataView of(const Tensor& x, const Tensor& y);

  int64_t x_width() const;
  bool has_labels() const { return y_float != nullptr || y_uint8 != nullptr; }
  // Samples [begin, end).
  DataView slice(int64_t begin, int64_t end) const;
  // Copies samples indices[0..n) into x_out (n, x_width) and, when labels exist and y_out is not
  // null, y_out (n, y_width). indices == nullptr means samples first..first+n-1.
  void gather(const int64_t* indices, int64_t first, int64_t n, float* x_out, float* y_out) const;
  // Asks the CPU to start loading the samples a later gather(indices, first, n, ...) will read.
  // A shuffled batch reads n rows scattered over the whole dataset, each a DRAM miss; fit issues
  // this for the next batch before computing the current one, so the rows arrive meanwhile.
  void prefetch(const int64_t* indices, int64_t first, int64_t n) const;
};

}  // namespace keel
