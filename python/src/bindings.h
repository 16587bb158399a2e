// keel._keel: the C++ side of the Python package. Each bind_* function adds one concept's classes
// and functions to the module; the Keras-shaped API (keyword arguments, defaults, class names)
// lives in python/keel/keras, which calls these.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

#include <nlohmann/json.hpp>

namespace keel_python {

namespace nb = nanobind;

void bind_layers(nb::module_& m);
void bind_optimizers(nb::module_& m);
void bind_callbacks(nb::module_& m);
void bind_model(nb::module_& m);
void bind_io(nb::module_& m);

// Configs cross the language boundary as JSON text (Python's json module on the other side): one
// conversion, the same one keel's config files use.
nlohmann::json parse_json_argument(const std::string& text, const char* what);

}  // namespace keel_python
