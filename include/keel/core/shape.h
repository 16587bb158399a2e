// Shape: a Keras shape, dims as int64. The batch dimension is dims[0] and is kBatchUnknown
// (printed "None") until run time; layers reason about full Keras shapes, so `axis=-1` and
// `(None, 784)` mean exactly what they mean in Keras.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace keel {

inline constexpr int64_t kBatchUnknown = -1;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  // A shape for one sample with an unknown batch in front: Shape::batched({28, 28}) = (None, 28, 28).
  static Shape batched(const std::vector<int64_t>& sample_dims);

  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t operator[](int64_t i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int64_t i) { return dims_[static_cast<size_t>(i)]; }
  const std::vector<int64_t>& dims() const { return dims_; }

  // Product of every dim but the batch dim: the number of floats one sample occupies.
  int64_t sample_size() const;
  // Product of all dims; every dim must be known.
  int64_t num_elements() const;
  // Python tuple text as Keras prints it: "(None, 784)", "(None,)", "(3,)".
  std::string to_string() const;

  bool operator==(const Shape&) const = default;

 private:
  std::vector<int64_t> dims_;
};

}  // namespace keel
