// TrainingState: what compile() sets up and fit/evaluate/predict share (private to src/model).
#pragma once

#include <memory>
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
  // allocates nothing (fit calls it after every step).
  void fill_logs(Logs& out) const;
  std::vector<int64_t> label_widths(const TrainingData& data) const;
};

// Checks that `data` has an array for every input and output of `model`, as many samples in each,
// and input widths the model takes; `what` ("training data") starts every message.
void check_training_data(const Model& model, const TrainingData& data, const char* what);

}  // namespace keel
