// Models: Sequential and functional, compile / fit / evaluate / predict on NumPy arrays. The GIL
// is released while C++ trains or predicts; Python callbacks and the progress text take it back.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "callbacks.h"
#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/model/fixup.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"
#include "numpy_arrays.h"

namespace keel_python {

namespace {

using Callbacks = std::vector<std::shared_ptr<keel::Callback>>;

// fit's keyword arguments, gathered by the Python side.
struct FitArguments {
  int64_t batch_size = 32;
  int64_t epochs = 1;
  int64_t initial_epoch = 0;
  int verbose = 1;
  double validation_split = 0.0;
  bool shuffle = true;
  uint64_t seed = 42;
};

keel::FitOptions fit_options(const FitArguments& a, Callbacks callbacks) {
  return {.batch_size = a.batch_size, .epochs = a.epochs, .initial_epoch = a.initial_epoch,
          .verbose = a.verbose, .validation_split = a.validation_split, .shuffle = a.shuffle,
          .seed = a.seed, .callbacks = std::move(callbacks), .out = &python_stdout()};
}

// The hooks bridge goes last: Python callbacks see the logs keel's callbacks completed (as Keras
// calls callbacks in list order, and keel's precede them in the list the Python side builds).
Callbacks with_bridge(Callbacks native, nb::object dispatcher, std::vector<std::string> hooks) {
  native.push_back(python_callbacks(std::move(dispatcher), std::move(hooks)));
  return native;
}

// (epoch indices, [(key, values)], keel's timing: train_seconds, train_samples, step_seconds).
nb::tuple history_result(const keel::History& history) {
  nb::list items;
  for (const auto& [key, values] : history.history) items.append(nb::make_tuple(key, values));
  nb::dict timing;
  timing["train_seconds"] = history.train_seconds;
  timing["train_samples"] = history.train_samples;
  timing["step_seconds"] = history.step_seconds;
  return nb::make_tuple(history.epoch, items, timing);
}

std::vector<keel::Tensor> tensors_of(const std::vector<AnyArray>& arrays, const char* what) {
  std::vector<keel::Tensor> tensors;
  tensors.reserve(arrays.size());
  for (const auto& a : arrays) tensors.push_back(tensor_of(a, what));
  return tensors;
}

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<FitArguments>(m, "FitArguments")
      .def(nb::init<>())
      .def_rw("batch_size", &FitArguments::batch_size)
      .def_rw("epochs", &FitArguments::epochs)
      .def_rw("initial_epoch", &FitArguments::initial_epoch)
      .def_rw("verbose", &FitArguments::verbose)
      .def_rw("validation_split", &FitArguments::validation_split)
      .def_rw("shuffle", &FitArguments::shuffle)
      .def_rw("seed", &FitArguments::seed);

  // Weak-referenceable: a test checks that a layer keeps only the native model it points into.
  nb::class_<keel::Model>(m, "Model", nb::is_weak_referenceable())
      .def_prop_ro("name", &keel::Model::name)
      .def_prop_ro("class_name", &keel::Model::class_name)
      .def_prop_ro("built", &keel::Model::built)
      .def_prop_ro("layers", [](const keel::Model& model) { return model.layers(); })
      .def_prop_ro("num_inputs", &keel::Model::num_inputs)
      .def_prop_ro("num_outputs", &keel::Model::num_outputs)
      // Each input's sample dims (its shape without the batch dimension), once built.
      .def_prop_ro("input_sample_dims", [](const keel::Model& model) {
        std::vector<std::vector<int64_t>> dims;
        for (int64_t id : model.input_tensors()) {
          const std::vector<int64_t>& shape = model.tensors()[size_t(id)].shape.dims();
          dims.emplace_back(shape.begin() + 1, shape.end());
        }
        return dims;
      })
      .def_rw("stop_training", &keel::Model::stop_training)
      .def("build", [](keel::Model& model, std::optional<std::vector<int64_t>> input_shape, uint64_t seed) {
        // input_shape: the sample dims; keel's Shape puts the (unknown) batch dimension first.
        std::optional<keel::Shape> shape;
        if (input_shape) shape = keel::Shape::batched(*input_shape);
        model.build(shape, seed);
      }, nb::arg("input_shape").none(), nb::arg("seed"))
      .def("summary", &keel::Model::summary)
      .def("count_params", &keel::Model::count_params)
      .def("to_json", [](const keel::Model& model) { return keel::model_to_json(model); })
      .def("compile", [](keel::Model& model, std::shared_ptr<keel::Optimizer> optimizer,
                         std::vector<std::string> losses, std::vector<double> loss_weights,
                         std::vector<std::string> metrics, bool from_logits) {
        keel::CompileOptions options{.optimizer = std::move(optimizer), .loss_weights = std::move(loss_weights),
                                     .metrics = std::move(metrics), .from_logits = from_logits};
        if (losses.size() == 1) options.loss = losses[0];
        else options.losses = std::move(losses);
        model.compile(std::move(options));
      })
      .def("metric_names", &keel::Model::metric_names)
      // One input, one output: x and y read in place.
      .def("fit", [](keel::Model& model, const AnyArray& x, const AnyArray& y,
                     std::optional<AnyArray> val_x, std::optional<AnyArray> val_y, const FitArguments& args,
                     Callbacks native, nb::object dispatcher, std::vector<std::string> hooks) {
        const keel::DataView data = view_of(x, y, "x");
        keel::FitOptions options = fit_options(args, with_bridge(std::move(native), std::move(dispatcher), std::move(hooks)));
        if (val_x) options.validation_data = view_of(*val_x, val_y, "validation_data");
        keel::History history;
        {
          nb::gil_scoped_release release;
          history = model.fit(data, std::move(options));
        }
        return history_result(history);
      })
      // Several inputs or outputs: one array each, copied into Tensors.
      .def("fit_many", [](keel::Model& model, const std::vector<AnyArray>& xs, const std::vector<AnyArray>& ys,
                          const FitArguments& args, Callbacks native, nb::object dispatcher,
                          std::vector<std::string> hooks) {
        const std::vector<keel::Tensor> x_tensors = tensors_of(xs, "x"), y_tensors = tensors_of(ys, "y");
        keel::FitOptions options = fit_options(args, with_bridge(std::move(native), std::move(dispatcher), std::move(hooks)));
        keel::History history;
        {
          nb::gil_scoped_release release;
          history = model.fit(x_tensors, y_tensors, std::move(options));
        }
        return history_result(history);
      })
      .def("evaluate", [](keel::Model& model, const AnyArray& x, const AnyArray& y, int64_t batch_size,
                          int verbose, Callbacks native, nb::object dispatcher, std::vector<std::string> hooks) {
        const keel::DataView data = view_of(x, y, "x");
        keel::EvaluateOptions options{.batch_size = batch_size, .verbose = verbose, .out = &python_stdout(),
                                      .callbacks = with_bridge(std::move(native), std::move(dispatcher), std::move(hooks))};
        keel::Logs logs;
        {
          nb::gil_scoped_release release;
          logs = model.evaluate(data, std::move(options));
        }
        return logs_dict(logs);
      })
      .def("evaluate_many", [](keel::Model& model, const std::vector<AnyArray>& xs, const std::vector<AnyArray>& ys,
                               int64_t batch_size, int verbose, Callbacks native, nb::object dispatcher,
                               std::vector<std::string> hooks) {
        const std::vector<keel::Tensor> x_tensors = tensors_of(xs, "x"), y_tensors = tensors_of(ys, "y");
        keel::EvaluateOptions options{.batch_size = batch_size, .verbose = verbose, .out = &python_stdout(),
                                      .callbacks = with_bridge(std::move(native), std::move(dispatcher), std::move(hooks))};
        keel::Logs logs;
        {
          nb::gil_scoped_release release;
          logs = model.evaluate(x_tensors, y_tensors, std::move(options));
        }
        return logs_dict(logs);
      })
      .def("predict", [](keel::Model& model, const AnyArray& x, int64_t batch_size, int verbose) {
        const keel::DataView data = view_of(x, std::nullopt, "x");
        keel::Tensor out;
        {
          nb::gil_scoped_release release;
          // Ctrl-C ends a long predict after the current batch, as it ends fit.
          const auto check_signals = [] {
            nb::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() != 0) throw nb::python_error();
          };
          out = model.predict(data, keel::PredictOptions{.batch_size = batch_size, .verbose = verbose,
                                                         .out = &python_stdout(),
                                                         .after_batch = check_signals});
        }
        return numpy_from(std::move(out));
      })
      .def("predict_many", [](keel::Model& model, const std::vector<AnyArray>& xs, int64_t batch_size) {
        const std::vector<keel::Tensor> x_tensors = tensors_of(xs, "x");
        std::vector<keel::Tensor> outs;
        {
          nb::gil_scoped_release release;
          outs = model.predict(x_tensors, batch_size);
        }
        nb::list arrays;
        for (auto& t : outs) arrays.append(numpy_from(std::move(t)));
        return arrays;
      });

  nb::class_<keel::Sequential, keel::Model>(m, "Sequential", nb::is_weak_referenceable())
      .def("add", [](keel::Sequential& model, std::shared_ptr<keel::Layer> layer) { model.add(std::move(layer)); });
  m.def("fixup", [](keel::Model& model, uint64_t seed) { return keel::fixup(model, seed); });
  m.def("make_sequential", [](const std::string& name) { return std::make_shared<keel::Sequential>(name); });
  m.def("make_functional", [](std::vector<keel::KerasTensor> inputs, std::vector<keel::KerasTensor> outputs,
                              const std::string& name, uint64_t seed) {
    auto model = std::make_shared<keel::Model>(std::move(inputs), std::move(outputs), name);
    if (seed != 42) model->build(std::nullopt, seed);  // the constructor initialised from seed 42
    return model;
  });
}

}  // namespace keel_python
