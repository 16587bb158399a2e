// Optimizers from Keras names and get_config() keys (make_optimizer), with their state readable.
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <memory>

#include "bindings.h"
#include "keel/optimizers/optimizer.h"

namespace keel_python {

void bind_optimizers(nb::module_& m) {
  nb::class_<keel::Optimizer>(m, "Optimizer")
      .def_prop_ro("name", &keel::Optimizer::name)
      .def_prop_ro("class_name", &keel::Optimizer::class_name)
      .def_prop_rw("learning_rate", &keel::Optimizer::learning_rate, &keel::Optimizer::set_learning_rate)
      .def_prop_ro("iterations", &keel::Optimizer::iterations)
      .def("get_config_json", [](const keel::Optimizer& o) { return o.get_config().dump(); });
  m.def("make_optimizer", [](const std::string& name, const std::string& config_json) {
    return std::shared_ptr<keel::Optimizer>(
        keel::make_optimizer(name, parse_json_argument(config_json, name.c_str())));
  });
}

}  // namespace keel_python
