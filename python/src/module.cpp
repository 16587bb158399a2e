// The extension module keel._keel. keel::Error becomes ValueError with keel's message (the
// Python side raises TypeError for an unknown keyword argument before keel sees it, as Keras does).
#include <exception>

#include "bindings.h"
#include "keel/core/error.h"

namespace keel_python {

nlohmann::json parse_json_argument(const std::string& text, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw keel::Error(std::string(what) + ": invalid JSON: " + e.what());
  }
}

}  // namespace keel_python

NB_MODULE(_keel, m) {
  namespace nb = nanobind;
  m.doc() = "keel's C++ core; use keel.keras";
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const keel::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  keel_python::bind_layers(m);
  keel_python::bind_optimizers(m);
  keel_python::bind_callbacks(m);
  keel_python::bind_model(m);
  keel_python::bind_io(m);
}
