// The Keras training API types: compile options, fit options, History.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keel/model/callback.h"
#include "keel/model/data_view.h"

namespace keel {

class Optimizer;

// model.compile(optimizer=..., loss=..., metrics=[...], loss_weights=[...]).
// A model with several outputs trains on the weighted sum of their losses (Keras): `loss` applies
// to every output, or `losses` gives one per output (Keras loss=[...]), in output order; each
// metric is computed for every output. Logs then hold "loss" (the weighted total),
// "<output layer>_loss" per output (unweighted) and "<output layer>_<metric>".
struct CompileOptions {
  std::shared_ptr<Optimizer> optimizer;  // nullptr: SGD() with Keras defaults (optimizer="sgd")
  std::string loss;                      // Keras loss name for every output
  std::vector<std::string> losses;       // or one Keras loss name per output
  std::vector<double> loss_weights;      // per output; empty: 1 each
  std::vector<std::string> metrics;      // e.g. {"accuracy"}
  bool from_logits = false;              // the loss's from_logits argument
};

struct FitOptions {
  int64_t batch_size = 32;
  int64_t epochs = 1;          // the final epoch number (Keras), counted from 1
  int64_t initial_epoch = 0;   // 0-based epoch to start at (resuming)
  int verbose = 1;             // 0 silent, 1 progress bar, 2 one line per epoch
  std::optional<DataView> validation_data;  // one-input, one-output models
  double validation_split = 0.0;  // the LAST fraction of the data, taken before shuffling (Keras)
  bool shuffle = true;
  uint64_t seed = 42;          // shuffling order
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::ostream* out = nullptr;  // progress output; nullptr: std::cout
  // Keras's validation_data=([x1, x2], [y1, y2]) for fit(xs, ys): one array per input and per
  // output, read in place (they must outlive the fit call).
  std::span<const Tensor> validation_xs, validation_ys;
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  std::ostream* out = nullptr;
  std::vector<std::shared_ptr<Callback>> callbacks;  // their on_test_* hooks run
};

struct PredictOptions {
  int64_t batch_size = 32;
  int verbose = 0;              // 1: Keras's progress bar ("313/313 [====] - 0s 1ms/step"), 2: one line
  std::ostream* out = nullptr;  // progress output; nullptr: std::cout
  // Called after every batch; may throw to end the predict (the Python package checks Ctrl-C
  // here, as fit does through its callbacks).
  std::function<void()> after_batch{};
};

// History.history: per-epoch values keyed like Keras ("loss", "accuracy", "val_loss", ...).
struct History {
  std::vector<int64_t> epoch;  // 0-based epoch indices that ran
  std::vector<std::pair<std::string, std::vector<double>>> history;
  // Wall time spent in training steps (no validation) and the samples they processed.
  double train_seconds = 0.0;
  int64_t train_samples = 0;
  // Of train_seconds: the gradient all-reduce over data-parallel ranks (0 with one process); it
  // includes waiting for the slowest rank.
  double allreduce_seconds = 0.0;
  // Wall time of each training step, in order (reserved before the first step: no allocation).
  std::vector<double> step_seconds;
  // The default thread count adapts to other processes' load (keel/kernels/thread_governor.h):
  // the fewest threads a step ran with, and how often the count changed (0 on an idle machine
  // or when the count is fixed).
  int lowest_threads = 0;
  int64_t thread_changes = 0;

  const std::vector<double>& operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  void append(int64_t epoch, const Logs& logs);
};

// What the last training step did (for gradient-norm logging).
struct StepStats {
  double loss = 0.0;                  // mean loss of the batch
  double preclip_global_norm = 0.0;
  double postclip_global_norm = 0.0;
  bool clipped = false;
  bool skipped = false;               // non-finite gradient skipped (on_nonfinite = skip_step)
};

}  // namespace keel
