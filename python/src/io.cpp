// Saving and loading (TF.js Layers format, Keras JSON configs), BN folding, Fashion-MNIST.
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>

#include "bindings.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/io/fashion_mnist.h"
#include "keel/io/model_config.h"
#include "keel/io/saved_model.h"
#include "numpy_arrays.h"

namespace keel_python {

namespace {

nb::object numpy_bytes(std::vector<uint8_t>&& bytes, std::vector<size_t> shape) {
  auto* owned = new std::vector<uint8_t>(std::move(bytes));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<uint8_t>*>(p); });
  return nb::cast(nb::ndarray<nb::numpy, uint8_t>(owned->data(), shape.size(), shape.data(), owner));
}

}  // namespace

void bind_io(nb::module_& m) {
  m.def("save_model", [](const keel::Model& model, const std::string& dir) { keel::save_model(model, dir); });
  m.def("load_model", [](const std::string& dir) { return std::make_shared<keel::Model>(keel::load_model(dir)); });
  m.def("model_from_json", [](const std::string& text, uint64_t seed) {
    return std::make_shared<keel::Model>(keel::model_from_json(text, "<string>", seed));
  });
  m.def("fold_batch_norm", [](const keel::Model& model) {
    keel::FoldResult result = keel::fold_batch_norm(model);
    return nb::make_tuple(std::make_shared<keel::Model>(std::move(result.model)), result.report());
  });
  // ((x_train, y_train), (x_test, y_test)) as uint8 arrays, keras.datasets.fashion_mnist.load_data().
  m.def("load_fashion_mnist", [] {
    keel::FashionMnist data = keel::load_fashion_mnist(keel::default_fashion_mnist_dir());
    const auto n_train = static_cast<size_t>(data.train_count), n_test = static_cast<size_t>(data.test_count);
    return nb::make_tuple(
        nb::make_tuple(numpy_bytes(std::move(data.train_images), {n_train, 28, 28}),
                       numpy_bytes(std::move(data.train_labels), {n_train})),
        nb::make_tuple(numpy_bytes(std::move(data.test_images), {n_test, 28, 28}),
                       numpy_bytes(std::move(data.test_labels), {n_test})));
  });
}

}  // namespace keel_python
