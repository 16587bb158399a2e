// Tensor: owning, contiguous, 64-byte aligned float32, row-major. The unit of data exchanged
// with users (fit/evaluate/predict inputs and outputs, dataset arrays). Layers and kernels work on
// raw pointers into tensors and arenas; Tensor exists so users never manage buffers by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace keel {

namespace detail {
struct AlignedFree {
  void operator()(float* p) const;
};
}  // namespace detail

// 64-byte aligned float buffer (cache line / AVX-512 vector); contents uninitialised.
std::unique_ptr<float[], detail::AlignedFree> allocate_aligned_floats(int64_t count);

// A layer's scratch that grows to the largest batch seen and is then reused (no allocation per
// step), 64-byte aligned (so rows of a multiple of 16 floats start on cache lines, which the
// kernels' column splits rely on). Contents are uninitialised after growth. Copying copies no
// contents (scratch is per-pass state, not part of a layer's value); a moved-from buffer is empty.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) {}
  ScratchBuffer& operator=(const ScratchBuffer&) { return *this; }
  ScratchBuffer(ScratchBuffer&& other) noexcept
      : data_(std::move(other.data_)), capacity_(std::exchange(other.capacity_, 0)) {}
  ScratchBuffer& operator=(ScratchBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }

  float* ensure(int64_t count) {
    if (count > capacity_) {
      data_ = allocate_aligned_floats(count);
      capacity_ = count;
    }
    return data_.get();
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  // The same storage holding `count` bfloat16 values (keel/kernels/bf16.h): half the floats.
  uint16_t* ensure_bf16(int64_t count) { return reinterpret_cast<uint16_t*>(ensure((count + 1) / 2)); }
  const uint16_t* bf16_data() const { return reinterpret_cast<const uint16_t*>(data_.get()); }

 private:
  std::unique_ptr<float[], detail::AlignedFree> data_;
  int64_t capacity_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor of the given dims (all known, >= 0).
  explicit Tensor(std::vector<int64_t> dims);
  Tensor(std::vector<int64_t> dims, std::span<const float> values);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t dim(int64_t i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t size() const { return size_; }
  // Elements per row of the leading dimension: the product of the other dimensions (1 for a
  // rank-1 tensor), also when there are no rows (a (0, 784) tensor's rows are 784 wide).
  int64_t row_size() const {
    int64_t n = 1;
    for (size_t i = 1; i < dims_.size(); ++i) n *= dims_[i];
    return n;
  }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::span<float> values() { return {data_.get(), static_cast<size_t>(size_)}; }
  std::span<const float> values() const { return {data_.get(), static_cast<size_t>(size_)}; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Same data, new dims with the same element count.
  void reshape(std::vector<int64_t> dims);

 private:
  std::vector<int64_t> dims_;
  int64_t size_ = 0;
  std::unique_ptr<float[], detail::AlignedFree> data_;
};

}  // namespace keel
