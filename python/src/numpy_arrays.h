// NumPy arrays <-> keel data. Inputs are read in place: the Python side passes C-contiguous
// float32 or uint8 arrays (it converts other dtypes first, as Keras casts them to float32), and a
// DataView points into their buffers, so fit / evaluate / predict copy nothing up front.
#pragma once

#include <nanobind/ndarray.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/tensor.h"
#include "keel/model/data_view.h"

namespace keel_python {

namespace nb = nanobind;

using FloatArray = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
// float32 or uint8, C-contiguous; checked by view_of.
using AnyArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// "(784, 300)"
std::string dims_text(const std::vector<int64_t>& dims);

// A new NumPy float32 array holding a copy of `size(shape)` floats at `data`.
nb::object numpy_copy(const float* data, const std::vector<int64_t>& shape);
// A NumPy array that takes ownership of `tensor` (no copy).
nb::object numpy_from(keel::Tensor&& tensor);

// The samples of x (N, ...) and labels y (N, ...) as a view into their buffers. `what` names the
// argument in errors ("x", "validation_data").
keel::DataView view_of(const AnyArray& x, const std::optional<AnyArray>& y, const char* what);

// A Tensor copy of a float32 or uint8 array (the multi-input forms of fit take Tensors).
keel::Tensor tensor_of(const AnyArray& a, const char* what);

}  // namespace keel_python
