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

struct TrainingState {
  std::shared_ptr<Optimizer> optimizer;
  std::unique_ptr<Loss> loss;
  std::vector<std::string> metric_names;
  // Resolved on the first batch, when the label width is known (Keras resolves "accuracy" then).
  std::vector<std::unique_ptr<Metric>> metrics;
  int64_t metrics_true_width = -1;
  std::vector<ParamRef> params;  // trainable variables, arena order
  Mean loss_tracker;
  StepStats last;

  // Batch buffers, grown to the largest batch and then reused (no allocation per step).
  std::unique_ptr<float[], detail::AlignedFree> x_batch, y_batch, dloss;
  int64_t batch_capacity = 0, y_capacity_width = 0;

  void ensure_batch_buffers(int64_t batch, int64_t x_width, int64_t y_width, int64_t out_width);
  void ensure_metrics(int64_t out_width, int64_t true_width);
  void reset_metrics();
  Logs logs() const;
  // Writes loss and metrics into `out` in place: after the first batch the keys exist, so this
  // allocates nothing (fit calls it after every step).
  void fill_logs(Logs& out) const;
};

}  // namespace keel
