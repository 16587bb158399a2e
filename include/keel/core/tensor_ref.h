// TensorRef: a non-owning view of one contiguous, row-major tensor (DESIGN.md "core"): the data
// pointer, its element type and its run-time dims (dims[0] is the batch). Layers receive spans of
// these from the model's plan. The dims live inline (no allocation), so a plan can refill views
// for every batch without touching the heap.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <span>

#include "keel/core/shape.h"

namespace keel {

enum class DType : uint8_t { kF32, kBF16 };

class Dims {
 public:
  static constexpr int kMaxRank = 8;
  Dims() = default;
  // A Shape's dims with the batch (unknown in the shape) set to `batch`.
  Dims(const Shape& shape, int64_t batch) : rank_(static_cast<int>(shape.rank())) {
    assert(rank_ <= kMaxRank);
    for (int i = 0; i < rank_; ++i) dims_[static_cast<size_t>(i)] = shape[i];
    if (rank_ > 0) dims_[0] = batch;
  }
  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  int64_t num_elements() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
  }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

struct TensorRef {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Dims dims;

  float* f32() const {
    assert(dtype == DType::kF32);
    return static_cast<float*>(data);
  }
  int64_t batch() const { return dims[0]; }
  int64_t num_elements() const { return dims.num_elements(); }
};

}  // namespace keel
