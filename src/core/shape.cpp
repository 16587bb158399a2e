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

namespace {

// Whether the dims after the batch multiply to at most 2^32, computed without overflowing. A dim
// below 1 fails; a dim of 0 passes when `zero_is_empty`.
bool sample_within_bound(const Shape& shape, bool zero_is_empty) {
  int64_t sample = 1;
  for (size_t i = 1; i < shape.dims().size(); ++i) {
    const int64_t d = shape.dims()[i];
    if (d == 0 && zero_is_empty) return true;
    if (d < 1 || sample > (int64_t{1} << 32) / d) return false;
    sample *= d;
  }
  return true;
}

}  // namespace

void check_input_sample_size(const Shape& shape, std::string_view owner) {
  KEEL_CHECK(sample_within_bound(shape, false), owner, ": input shape ", shape.to_string(),
             " has more than 2^32 values per sample; expected a smaller input");
}

void check_output_sample_size(const Shape& shape, std::string_view owner) {
  KEEL_CHECK(sample_within_bound(shape, true), owner, ": output shape ", shape.to_string(),
             " has more than 2^32 values per sample; expected a smaller output (check the "
             "layer's arguments and its input)");
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
