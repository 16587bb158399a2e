#include "numpy_arrays.h"

#include <cstring>
#include <numeric>

#include "keel/core/error.h"

namespace keel_python {

namespace {

bool is_float32(const AnyArray& a) { return a.dtype() == nb::dtype<float>(); }
bool is_uint8(const AnyArray& a) { return a.dtype() == nb::dtype<uint8_t>(); }

std::vector<int64_t> dims_of(const AnyArray& a) {
  std::vector<int64_t> dims(a.ndim());
  for (size_t d = 0; d < a.ndim(); ++d) dims[d] = static_cast<int64_t>(a.shape(d));
  return dims;
}

void check_dtype(const AnyArray& a, const char* what) {
  KEEL_CHECK(is_float32(a) || is_uint8(a), what,
             ": expected a float32 or uint8 array (keel.keras converts other dtypes)");
}

}  // namespace

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

nb::object numpy_copy(const float* data, const std::vector<int64_t>& shape) {
  keel::Tensor copy(shape);
  if (copy.size() > 0) std::memcpy(copy.data(), data, static_cast<size_t>(copy.size()) * sizeof(float));
  return numpy_from(std::move(copy));
}

nb::object numpy_from(keel::Tensor&& tensor) {
  auto* owned = new keel::Tensor(std::move(tensor));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<keel::Tensor*>(p); });
  std::vector<size_t> shape(owned->dims().begin(), owned->dims().end());
  return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), shape.size(), shape.data(), owner));
}

keel::DataView view_of(const AnyArray& x, const std::optional<AnyArray>& y, const char* what) {
  check_dtype(x, what);
  KEEL_CHECK(x.ndim() >= 1, what, ": expected an array of samples (N, ...), got a scalar");
  keel::DataView view;
  const std::vector<int64_t> x_dims = dims_of(x);
  view.size = x_dims[0];
  view.sample_dims.assign(x_dims.begin() + 1, x_dims.end());
  if (view.sample_dims.empty()) view.sample_dims = {1};  // (N,) samples are scalars
  if (is_float32(x)) view.x_float = static_cast<const float*>(x.data());
  else view.x_uint8 = static_cast<const uint8_t*>(x.data());  // cast to float as Keras does: no scaling
  if (!y) return view;
  check_dtype(*y, what);
  const std::vector<int64_t> y_dims = dims_of(*y);
  KEEL_CHECK(!y_dims.empty() && y_dims[0] == view.size, what, ": x has ", view.size,
             " samples but y has ", y_dims.empty() ? 0 : y_dims[0],
             " (x shape ", dims_text(x_dims), ", y shape ", dims_text(y_dims), ")");
  view.y_width = std::accumulate(y_dims.begin() + 1, y_dims.end(), int64_t{1}, std::multiplies<>());
  if (is_float32(*y)) view.y_float = static_cast<const float*>(y->data());
  else view.y_uint8 = static_cast<const uint8_t*>(y->data());
  return view;
}

keel::Tensor tensor_of(const AnyArray& a, const char* what) {
  check_dtype(a, what);
  keel::Tensor t(dims_of(a));
  if (is_float32(a)) {
    if (t.size() > 0) std::memcpy(t.data(), a.data(), static_cast<size_t>(t.size()) * sizeof(float));
  } else {
    const auto* bytes = static_cast<const uint8_t*>(a.data());
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(bytes[i]);
  }
  return t;
}

}  // namespace keel_python
