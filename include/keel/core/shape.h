// Shape: a Keras shape, dims as int64. The batch dimension is dims[0] and is kBatchUnknown
// (printed "None") until run time; layers reason about full Keras shapes, so `axis=-1` and
// `(None, 784)` mean exactly what they mean in Keras.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
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

// Throws keel::Error "<owner>: input shape (None, ...) has more than 2^32 values per sample"
// unless every dim after the batch is >= 1 and their product is at most 2^32. Called where an
// input shape enters a model, before any layer multiplies the dims (a config or file can claim
// any size, and an overflowing product is UB).
void check_input_sample_size(const Shape& shape, std::string_view owner);
// The same bound on a layer's output ("<owner>: output shape ... has more than 2^32 values per
// sample"), checked when the layer is built: a padding or an upsampling argument can multiply a
// small input past any memory, and the allocation would fail later without naming the layer.
// Dims of 0 (an empty output) pass.
void check_output_sample_size(const Shape& shape, std::string_view owner);

}  // namespace keel
