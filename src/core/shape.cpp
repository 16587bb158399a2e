#include "keel/core/shape.h"

#include <cassert>

#include "keel/core/error.h"

namespace keel {

Shape Shape::batched(const std::vector<int64_t>& sample_dims) {
  std::vector<int64_t> dims;
  dims.reserve(sample_dims.size() + 1);
  dims.push_back(kBatchUnknown);
  dims.insert(dims.end(), sample_dims.begin(), sample_dims.end());
  return Shape(std::move(dims));
}

int64_t Shape::sample_size() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims_.size(); ++i) n *= dims_[i];
  return n;
}

int64_t Shape::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    assert(d >= 0);
    n *= d;
  }
  return n;
}

void check_input_sample_size(const Shape& shape, std::string_view owner) {
  int64_t sample = 1;
  for (size_t i = 1; i < shape.dims().size(); ++i) {
    const int64_t d = shape.dims()[i];
    KEEL_CHECK(d >= 1 && sample <= (int64_t{1} << 32) / d, owner, ": input shape ",
               shape.to_string(), " has more than 2^32 values per sample; expected a smaller input");
    sample *= d;
  }
}

void check_output_sample_size(const Shape& shape, std::string_view owner) {
  int64_t sample = 1;
  for (size_t i = 1; i < shape.dims().size(); ++i) {
    const int64_t d = shape.dims()[i];
    if (d == 0) return;  // an empty output holds nothing
    KEEL_CHECK(d > 0 && sample <= (int64_t{1} << 32) / d, owner, ": output shape ",
               shape.to_string(), " has more than 2^32 values per sample; expected a smaller "
               "output (check the layer's arguments and its input)");
    sample *= d;
  }
}

std::string Shape::to_string() const {
  std::string text = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) text += ", ";
    text += dims_[i] == kBatchUnknown ? "None" : std::to_string(dims_[i]);
  }
  if (dims_.size() == 1) text += ",";
  return text + ")";
}

}  // namespace keel
