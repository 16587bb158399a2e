// TrainingState: what compile() sets up and fit/evaluate/predict share (private to src/model).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "keel/core/tensor.h"
#include "keel/losses/loss.h"
#include "keel/metrics/metric.h"
#include "keel/model/model.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

using AlignedFloats = std::unique_ptr<float[], detail::AlignedFree>;

// Samples for fit / evaluate: one view per model input (features only) and one per model output
// whose "features" are the labels (a target DataView: x_* point at y values, no scaling).
struct TrainingData {
  std::vector<DataView> inputs, targets;
  int64_t size() const { return inputs.empty() ? 0 : inputs[0].size; }
  // The single-input, single-output form: x and y of one view.
  static TrainingData of(const DataView& data);
  // One array per model input and one per output, each (samples, ...).
  static TrainingData of(std::span<const Tensor> xs, std::span<const Tensor> ys);
  TrainingData slice(int64_t begin, int64_t end) const;
  void gather(const int64_t* indices, int64_t first, int64_t n, std::span<float* const> x_out,
              std::span<float* const> y_out) const;
  void prefetch(const int64_t* indices, int64_t first, int64_t n) const;
};

// One model output's part of training: its loss (weighted into the total, Keras loss_weights),
// its metrics, their running values and the log keys ("loss", "accuracy" for a one-output
// model; "<output layer>_loss", "<output layer>_accuracy" otherwise, as Keras names them).
struct OutputTraining {
  std::unique_ptr<Loss> loss;
  double weight = 1.0;
  std::string loss_key;  // empty for a one-output model (the total is its loss)
  std::string metric_prefix;
  std::vector<std::unique_ptr<Metric>> metrics;
  std::vector<std::string> metric_keys;
  // Resolved on the first batch, when the label width is known (Keras resolves "accuracy" then).
  int64_t metrics_true_width = -1;
  Mean loss_tracker;
  AlignedFloats y_batch, dloss;
};

struct TrainingState {
  std::shared_ptr<Optimizer> optimizer;
  std::vector<std::string> metric_names;
  std::vector<ParamRef> params;  // trainable variables, arena order
  std::vector<OutputTraining> outputs;
  Mean loss_tracker;  // the weighted total
  StepStats last;

  // Batch buffers, grown to the largest batch and then reused (no allocation per step), and the
  // pointer / flag arrays Model::forward / backward take.
  std::vector<AlignedFloats> x_batches;
  std::vector<float*> x_pointers, y_pointers;       // gather writes through these
  std::vector<const float*> x_inputs, dloss_inputs;  // forward / backward read through these
  std::unique_ptr<bool[]> from_logits;
  int64_t batch_capacity = 0;
  std::vector<int64_t> y_capacity_widths;

  void ensure_batch_buffers(const Model& model, int64_t batch, std::span<const int64_t> y_widths);
  void ensure_metrics(OutputTraining& output, int64_t out_width, int64_t true_width) const;
  void reset_metrics();
  Logs logs() const;
  // Writes loss and metrics into `out` in place: after the first batch the keys exist, so this
  // allocates nothing (fit calls it after every step). With several ranks every rank must call it
  // (it sums the running totals over the ranks).
  void fill_logs(Logs& out, const Communicator& comm) const;
  void fill_logs(Logs& out) const;
  // f(key, mean) for "loss", each output's loss key and each metric, in log order.
  template <typename F>
  void visit_means(F&& f) const {
    f(std::string_view("loss"), loss_tracker);
    for (const OutputTraining& o : outputs)
      if (!o.loss_key.empty()) f(std::string_view(o.loss_key), o.loss_tracker);
    for (const OutputTraining& o : outputs)
      for (size_t i = 0; i < o.metrics.size(); ++i)
        f(std::string_view(o.metric_keys[i]), o.metrics[i]->running_mean());
  }
  mutable std::vector<double> rank_sums;  // fill_logs' scratch for the all-reduce
  std::vector<int64_t> label_widths(const TrainingData& data) const;
};

// Reads running means into `out` as Keras reads metrics under a distribution strategy: each rank
// holds the totals of its own samples, and a read sums totals and counts over the ranks first.
// `visit(f)` calls f(key, mean) for each mean in a fixed order (the same on every rank); `sums` is
// scratch, reused so a read allocates nothing once it has grown.
template <typename Visit>
void read_means(const Communicator& comm, std::vector<double>& sums, Visit&& visit, Logs& out) {
  if (comm.size() == 1) {
    visit([&](std::string_view key, const Mean& m) { out.set(key, m.result()); });
    return;
  }
  sums.clear();
  visit([&](std::string_view, const Mean& m) {
    sums.push_back(m.total());
    sums.push_back(m.count());
  });
  comm.all_reduce_sum(sums);
  size_t i = 0;
  visit([&](std::string_view key, const Mean&) {
    out.set(key, sums[i + 1] > 0.0 ? sums[i] / sums[i + 1] : 0.0);
    i += 2;
  });
}

// Checks that `data` has an array for every input and output of `model`, as many samples in each,
// and input widths the model takes; `what` ("training data") starts every message.
void check_training_data(const Model& model, const TrainingData& data, const char* what);

// Samples with a shape of their own (two or more dims) must have the input's: (1, 8, 8) data for a
// (None, 8, 8, 1) input holds as many values in another layout (channels first), and reading it as
// the model's would be a silent wrong answer. Flat samples (one dim) and flattening images into a
// flat input stay accepted (C++ callers pass rows of sample_size() floats). `what` starts the
// message, followed by "input N" when `input` >= 0; nothing is allocated unless it throws.
void check_sample_layout(const Shape& input, std::span<const int64_t> sample_dims, const char* what,
                         int64_t input_index = -1);

}  // namespace keel
