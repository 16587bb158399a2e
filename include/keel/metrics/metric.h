// Stateful metric accumulators with Keras semantics (keras/metrics, compile_utils.MetricsContainer).
//
// Every metric is a weighted mean: Keras's MeanMetricWrapper computes one value per sample and
// keeps (total, count), so a partial last batch weighs less. The loss tracker of fit() is a Mean
// updated with the batch's mean loss and weight = batch size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace keel {

// keras.metrics.Mean: result = sum(value * weight) / sum(weight); 0 before any update (Keras's
// divide_no_nan).
class Mean {
 public:
  void reset() { total_ = 0.0, count_ = 0.0; }
  void update(double value, double weight = 1.0) { total_ += value * weight, count_ += weight; }
  double result() const { return count_ > 0.0 ? total_ / count_ : 0.0; }
  double count() const { return count_; }
  double total() const { return total_; }

 private:
  double total_ = 0.0, count_ = 0.0;
};

struct MetricBatch {
  const float* y_pred = nullptr;  // (batch, width) model output
  const float* y_true = nullptr;  // (batch, true_width); class ids as floats when true_width is 1
  int64_t batch = 0, width = 0, true_width = 0;
};

class Metric {
 public:
  virtual ~Metric() = default;
  // The name Keras prints and logs: exactly what the user passed ("accuracy", "acc", "mae").
  const std::string& name() const { return name_; }
  // The Keras function it wraps ("sparse_categorical_accuracy"), for configs.
  virtual std::string fn() const = 0;
  void reset() { mean_.reset(); }
  // Adds one value per sample of the batch. Throws keel::Error on inconsistent dims.
  void update(const MetricBatch& batch);
  double result() const { return mean_.result(); }
  // The running total and count (summed over ranks when training data-parallel).
  const Mean& running_mean() const { return mean_; }

 protected:
  explicit Metric(std::string name) : name_(std::move(name)) {}
  // Per-sample value of sample `s`.
  virtual double sample_value(const MetricBatch& batch, int64_t s) const = 0;
  virtual void check(const MetricBatch& batch) const;

 private:
  std::string name_;
  Mean mean_;
};

// What Keras turns "accuracy"/"acc" into, from the shapes of y_pred and y_true
// (compile_utils.MetricsContainer._get_metric_object):
//   output_width == 1                       -> "binary_accuracy" (threshold 0.5)
//   true_width == 1 (labels are class ids)  -> "sparse_categorical_accuracy"
//   otherwise                               -> "categorical_accuracy"
// With sparse_categorical_crossentropy the labels are ids, so this gives sparse accuracy.
std::string resolve_accuracy(int64_t output_width, int64_t true_width);

// "accuracy"/"acc" (resolved as above), "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy", "mae"/"mean_absolute_error", "mse"/"mean_squared_error". The metric's
// name() is `user_name` verbatim. Unknown names throw keel::Error.
std::unique_ptr<Metric> make_metric(std::string_view user_name, int64_t output_width,
                                    int64_t true_width);

}  // namespace keel
