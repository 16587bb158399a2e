// Callbacks: Python subclasses of keras.callbacks.Callback called from the C++ loop, Ctrl-C
// between batches, progress text through sys.stdout, and keel's built-in callbacks.
#include "callbacks.h"

#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <mutex>

#include "keel/callbacks/csv_logger.h"
#include "keel/core/error.h"
#include "keel/callbacks/early_stopping.h"
#include "keel/callbacks/learning_rate_scheduler.h"
#include "keel/callbacks/model_checkpoint.h"
#include "keel/callbacks/reduce_lr_on_plateau.h"
#include "keel/callbacks/tensorboard.h"
#include "keel/callbacks/terminate_on_nan.h"
#include "keel/model/progbar.h"

namespace keel_python {

namespace {

// Text written by the C++ side (progress bar, callback messages) goes to Python's sys.stdout, so
// it appears where print() output does (a notebook, pytest's capture, a redirected stream). The
// stream is unit-buffered (every write reaches Python at once) and shared by every model, so the
// pending text is guarded: two threads may train two models at the same time.
class PythonStdoutBuf final : public keel::TerminalAwareStreamBuf {
 public:
  bool is_terminal() const override {
    nb::gil_scoped_acquire gil;
    nb::module_ sys = nb::module_::import_("sys");
    nb::object out = sys.attr("stdout");
    if (out.is_none()) return false;
    const bool tty = nb::hasattr(out, "isatty") && nb::cast<bool>(out.attr("isatty")());
    return tty || nb::cast<bool>(sys.attr("modules").attr("__contains__")("ipykernel"));
  }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      std::lock_guard lock(mutex_);
      pending_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard lock(mutex_);
    pending_.append(s, static_cast<size_t>(n));
    return n;
  }
  int sync() override {
    std::string text;
    {
      std::lock_guard lock(mutex_);
      text.swap(pending_);
    }
    if (text.empty()) return 0;
    nb::gil_scoped_acquire gil;
    try {
      nb::object out = nb::module_::import_("sys").attr("stdout");
      if (!out.is_none()) {
        out.attr("write")(nb::str(text.data(), text.size()));
        out.attr("flush")();
      }
    } catch (nb::python_error& e) {
      // A sys.stdout that fails (closed, replaced by something odd) must not stop training, nor
      // leave the shared stream failed for every later fit: report it as Python does for errors
      // it cannot raise.
      e.discard_as_unraisable("keel: writing progress to sys.stdout");
    }
    return 0;
  }

 private:
  std::mutex mutex_;
  std::string pending_;
};

// Forwards fit's hooks to a Python dispatcher(hook, index, logs) for the hooks some Python
// callback overrides, and turns a pending Ctrl-C into KeyboardInterrupt after each batch (the
// batch's update is complete, so the model stays consistent).
class PythonCallbacks final : public keel::Callback {
 public:
  PythonCallbacks(nb::object dispatcher, std::vector<std::string> hooks)
      : dispatcher_(std::move(dispatcher)), hooks_(std::move(hooks)) {}
  ~PythonCallbacks() override {
    nb::gil_scoped_acquire gil;
    dispatcher_.reset();
  }

  void on_train_begin(const keel::Logs& logs) override { call("on_train_begin", -1, logs); }
  void on_train_end(const keel::Logs& logs) override { call("on_train_end", -1, logs); }
  void on_epoch_begin(int64_t epoch, const keel::Logs& logs) override { call("on_epoch_begin", epoch, logs); }
  void on_epoch_end(int64_t epoch, const keel::Logs& logs) override { call("on_epoch_end", epoch, logs); }
  void on_train_batch_begin(int64_t batch, const keel::Logs& logs) override {
    call("on_train_batch_begin", batch, logs);
  }
  void on_train_batch_end(int64_t batch, const keel::Logs& logs) override {
    call("on_train_batch_end", batch, logs);
    check_signals();
  }
  void on_test_begin(const keel::Logs& logs) override { call("on_test_begin", -1, logs); }
  void on_test_end(const keel::Logs& logs) override { call("on_test_end", -1, logs); }
  void on_test_batch_begin(int64_t batch, const keel::Logs& logs) override {
    call("on_test_batch_begin", batch, logs);
  }
  void on_test_batch_end(int64_t batch, const keel::Logs& logs) override {
    call("on_test_batch_end", batch, logs);
    check_signals();  // evaluate and fit's validation pass stop on Ctrl-C too
  }

 private:
  static void check_signals() {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }

  void call(const char* hook, int64_t index, const keel::Logs& logs) {
    if (std::find(hooks_.begin(), hooks_.end(), hook) == hooks_.end()) return;
    nb::gil_scoped_acquire gil;
    dispatcher_(hook, index, logs_dict(logs));  // a Python exception propagates as python_error
  }

  nb::object dispatcher_;
  std::vector<std::string> hooks_;
};

keel::MonitorMode monitor_mode(const std::string& mode) {
  if (mode == "auto") return keel::MonitorMode::kAuto;
  if (mode == "min") return keel::MonitorMode::kMin;
  if (mode == "max") return keel::MonitorMode::kMax;
  throw keel::Error("mode '" + mode + "' is unknown; expected 'auto', 'min' or 'max'");
}

}  // namespace

nb::dict logs_dict(const keel::Logs& logs) {
  nb::dict d;
  for (const auto& [key, value] : logs.items()) d[nb::str(key.c_str())] = value;
  return d;
}

std::ostream& python_stdout() {
  // Never destroyed: C++ may print after the interpreter has begun to shut down its objects.
  static auto* buffer = new PythonStdoutBuf();
  static auto* stream = [] {
    auto* out = new std::ostream(buffer);
    *out << std::unitbuf;  // messages without a flush (EarlyStopping's) appear at once
    return out;
  }();
  stream->clear();  // a write that failed earlier must not silence this call's output
  return *stream;
}

std::shared_ptr<keel::Callback> python_callbacks(nb::object dispatcher, std::vector<std::string> hooks) {
  return std::make_shared<PythonCallbacks>(std::move(dispatcher), std::move(hooks));
}

void bind_callbacks(nb::module_& m) {
  nb::class_<keel::Callback>(m, "Callback");
  m.def("EarlyStopping", [](std::string monitor, double min_delta, int64_t patience, int verbose,
                            std::string mode, std::optional<double> baseline, bool restore_best_weights) {
    return std::shared_ptr<keel::Callback>(std::make_shared<keel::EarlyStopping>(keel::EarlyStoppingOptions{
        .monitor = std::move(monitor), .min_delta = min_delta, .patience = patience, .verbose = verbose,
        .mode = monitor_mode(mode), .baseline = baseline, .restore_best_weights = restore_best_weights,
        .out = &python_stdout()}));
  });
  m.def("CSVLogger", [](std::string filename, std::string separator, bool append) {
    return std::shared_ptr<keel::Callback>(
        std::make_shared<keel::CSVLogger>(std::move(filename), std::move(separator), append));
  });
  m.def("TensorBoard", [](std::string log_dir, int64_t grad_norm_every, bool histograms) {
    return std::shared_ptr<keel::Callback>(std::make_shared<keel::TensorBoard>(
        std::move(log_dir), keel::TensorBoardOptions{.grad_norm_every = grad_norm_every,
                                                     .histograms = histograms}));
  });
  m.def("ModelCheckpoint", [](std::string filepath, std::string monitor, bool save_best_only,
                              std::string mode, int verbose, uint64_t seed, int64_t batch_size) {
    return std::shared_ptr<keel::Callback>(std::make_shared<keel::ModelCheckpoint>(
        std::move(filepath), keel::ModelCheckpointOptions{
            .monitor = std::move(monitor), .save_best_only = save_best_only, .mode = monitor_mode(mode),
            .verbose = verbose, .seed = seed, .batch_size = batch_size, .out = &python_stdout()}));
  });
  m.def("ReduceLROnPlateau", [](std::string monitor, double factor, int64_t patience, int verbose,
                                std::string mode, double min_delta, int64_t cooldown, double min_lr) {
    return std::shared_ptr<keel::Callback>(std::make_shared<keel::ReduceLROnPlateau>(
        keel::ReduceLROnPlateauOptions{.monitor = std::move(monitor), .factor = factor,
                                       .patience = patience, .verbose = verbose,
                                       .mode = monitor_mode(mode), .min_delta = min_delta,
                                       .cooldown = cooldown, .min_lr = min_lr,
                                       .out = &python_stdout()}));
  });
  m.def("TerminateOnNaN", [] {
    return std::shared_ptr<keel::Callback>(std::make_shared<keel::TerminateOnNaN>(&python_stdout()));
  });
}

}  // namespace keel_python
