#include "keel/core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "keel/core/error.h"

namespace keel {

void detail::AlignedFree::operator()(float* p) const { std::free(p); }

std::unique_ptr<float[], detail::AlignedFree> allocate_aligned_floats(int64_t count) {
  // aligned_alloc needs a size that is a multiple of the alignment; never ask for 0 bytes.
  size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float);
  bytes = (bytes + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (p == nullptr) throw std::bad_alloc();
  return std::unique_ptr<float[], detail::AlignedFree>(p);
}

static int64_t checked_size(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    KEEL_CHECK(d >= 0, "tensor dimension ", d, " is negative; expected >= 0");
    KEEL_CHECK(d == 0 || n <= (int64_t{1} << 40) / d, "tensor of ", dims.size(),
               " dims is too large (more than 2^40 elements)");
    n *= d;
  }
  return n;
}

Tensor::Tensor(std::vector<int64_t> dims)
    : dims_(std::move(dims)), size_(checked_size(dims_)), data_(allocate_aligned_floats(size_)) {
  std::fill_n(data_.get(), size_, 0.0f);
}

Tensor::Tensor(std::vector<int64_t> dims, std::span<const float> values) : Tensor(std::move(dims)) {
  KEEL_CHECK(static_cast<int64_t>(values.size()) == size_, "tensor needs ", size_,
             " values, got ", values.size());
  std::copy(values.begin(), values.end(), data_.get());
}

Tensor::Tensor(const Tensor& other)
    : dims_(other.dims_), size_(other.size_), data_(allocate_aligned_floats(size_)) {
  std::copy_n(other.data_.get(), size_, data_.get());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) *this = Tensor(other);
  return *this;
}

void Tensor::reshape(std::vector<int64_t> dims) {
  KEEL_CHECK(checked_size(dims) == size_, "cannot reshape a tensor of ", size_,
             " elements to a shape of ", checked_size(dims), " elements");
  dims_ = std::move(dims);
}

}  // namespace keel
