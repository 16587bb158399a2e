// Layers and symbolic tensors. A layer is created from its Keras class name and config (the
// registry keel's config readers use), so every keel layer is available with Keras's arguments
// and defaults; its variables are read and written as NumPy arrays.
#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "bindings.h"
#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/layers/input_layer.h"
#include "keel/layers/keras_tensor.h"
#include "keel/layers/layer.h"
#include "numpy_arrays.h"

namespace keel_python {

namespace {

// Keras shapes in Python: a tuple with None for the batch dimension.
nb::tuple shape_tuple(const keel::Shape& shape) {
  nb::list dims;
  for (int64_t d : shape.dims()) {
    if (d == keel::kBatchUnknown) dims.append(nb::none());
    else dims.append(d);
  }
  return nb::tuple(dims);
}

const keel::Variable& variable_at(const keel::Layer& layer, size_t i) {
  const auto& variables = layer.variables();
  KEEL_CHECK(i < variables.size(), "layer '", layer.name(), "': no variable ", i, " (it has ",
             variables.size(), ")");
  const keel::Variable& v = variables[i];
  KEEL_CHECK(v.value != nullptr, "variable '", v.name,
             "' has no value yet: the model holding layer '", layer.name(), "' is not built");
  return v;
}

}  // namespace

void bind_layers(nb::module_& m) {
  nb::class_<keel::Layer>(m, "Layer")
      .def_prop_ro("name", &keel::Layer::name)
      .def_prop_ro("class_name", &keel::Layer::class_name)
      .def_prop_rw("trainable", &keel::Layer::trainable, &keel::Layer::set_trainable)
      .def_prop_ro("built", &keel::Layer::built)
      .def_prop_ro("dtype_policy_name", [](const keel::Layer& l) { return l.dtype_policy().name(); })
      .def("ensure_name", &keel::Layer::ensure_name)
      // A stable identity for the Python wrapper registry (model.layers[i] is the object the user
      // created).
      .def_prop_ro("address", [](const keel::Layer& l) { return reinterpret_cast<uintptr_t>(&l); })
      .def("get_config_json", [](const keel::Layer& l) { return l.get_config().dump(); })
      .def("output_shapes", [](const keel::Layer& l) {
        nb::list shapes;
        for (const auto& s : l.output_shapes()) shapes.append(shape_tuple(s));
        return shapes;
      })
      // (name, shape, trainable) of every variable, Keras `layer.variables` order.
      .def("variable_info", [](const keel::Layer& l) {
        nb::list info;
        for (const auto& v : l.variables()) {
          info.append(nb::make_tuple(v.name, nb::tuple(nb::cast(v.shape)), v.trainable,
                                     v.value != nullptr));
        }
        return info;
      })
      .def("variable_numpy", [](const keel::Layer& l, size_t i) {
        const keel::Variable& v = variable_at(l, i);
        return numpy_copy(v.value, v.shape);
      })
      .def("assign_variable", [](keel::Layer& l, size_t i, const FloatArray& value) {
        const keel::Variable& v = variable_at(l, i);
        std::vector<int64_t> got(value.ndim());
        for (size_t d = 0; d < value.ndim(); ++d) got[d] = static_cast<int64_t>(value.shape(d));
        KEEL_CHECK(got == v.shape, "variable '", v.name, "': cannot assign a value of shape ",
                   dims_text(got), " to a variable of shape ", dims_text(v.shape));
        std::memcpy(v.value, value.data(), static_cast<size_t>(v.size()) * sizeof(float));
      })
      // Every output of the call (one for most layers; [y, h_T(, c_T)] for an RNN with
      // return_state).
      .def("__call__", [](const std::shared_ptr<keel::Layer>& layer,
                          const std::vector<keel::KerasTensor>& inputs) {
        return keel::all_outputs(keel::call_layer(layer, inputs));
      });

  nb::class_<keel::KerasTensor>(m, "KerasTensor")
      .def_prop_ro("shape", [](const keel::KerasTensor& t) { return shape_tuple(t.shape()); })
      .def_prop_ro("layer", [](const keel::KerasTensor& t) { return t.node()->layer; })
      .def_prop_ro("inputs", [](const keel::KerasTensor& t) { return t.node()->inputs; })
      .def_prop_ro("index", &keel::KerasTensor::index);

  m.def("make_layer", [](const std::string& class_name, const std::string& config_json) {
    std::shared_ptr<keel::Layer> layer =
        keel::layer_from_config(class_name, parse_json_argument(config_json, class_name.c_str()));
    layer->ensure_name();  // Keras names a layer when it is constructed
    return layer;
  });
  m.def("Input", [](std::vector<int64_t> shape, const std::string& name) {
    return keel::Input(std::move(shape), {.name = name});
  }, nb::arg("shape"), nb::arg("name") = "");
  m.def("unique_layer_name", [](const std::string& prefix) { return keel::unique_layer_name(prefix); });
  m.def("reset_default_names", &keel::reset_default_names);
  // keras.mixed_precision: the policy by name (the Python Policy object wraps the name).
  m.def("set_global_policy", [](const std::string& name) {
    keel::mixed_precision::set_global_policy(keel::DTypePolicy(name));
  });
  m.def("global_policy_name", [] { return keel::mixed_precision::global_policy().name(); });
  m.def("check_policy_name", [](const std::string& name) { (void)keel::DTypePolicy(name); });
}

}  // namespace keel_python
