// Keras metric functions (tf.keras 2.x keras/metrics/metrics.py) as per-sample values.
#include "keel/metrics/metric.h"

#include <cmath>

#include "keel/core/error.h"

namespace keel {
namespace {

// First index of the maximum, like tf.argmax.
int64_t argmax(const float* row, int64_t width) {
  int64_t best = 0;
  for (int64_t k = 1; k < width; ++k) {
    if (row[k] > row[best]) best = k;
  }
  return best;
}

class SparseCategoricalAccuracy final : public Metric {
 public:
  explicit SparseCategoricalAccuracy(std::string name) : Metric(std::move(name)) {}
  std::string fn() const override { return "sparse_categorical_accuracy"; }

 protected:
  void check(const MetricBatch& b) const override {
    KEEL_CHECK(b.batch >= 0 && b.width > 0 && b.true_width == 1, "metric '", name(),
               "': y_true width is ", b.true_width, " for y_pred width ", b.width,
               "; expected 1 (class ids)");
  }
  double sample_value(const MetricBatch& b, int64_t s) const override {
    // Keras compares the float label with the float argmax: a label 2.5 never matches.
    return static_cast<float>(argmax(b.y_pred + s * b.width, b.width)) == b.y_true[s] ? 1.0 : 0.0;
  }
};

class CategoricalAccuracy final : public Metric {
 public:
  explicit CategoricalAccuracy(std::string name) : Metric(std::move(name)) {}
  std::string fn() const override { return "categorical_accuracy"; }

 protected:
  double sample_value(const MetricBatch& b, int64_t s) const override {
    return argmax(b.y_pred + s * b.width, b.width) == argmax(b.y_true + s * b.width, b.width)
               ? 1.0
               : 0.0;
  }
};

class BinaryAccuracy final : public Metric {
 public:
  explicit BinaryAccuracy(std::string name) : Metric(std::move(name)) {}
  std::string fn() const override { return "binary_accuracy"; }

 protected:
  double sample_value(const MetricBatch& b, int64_t s) const override {
    // Keras: mean over the last axis of equal(y_true, cast(y_pred > 0.5)).
    int64_t hits = 0;
    for (int64_t k = 0; k < b.width; ++k) {
      const float predicted = b.y_pred[s * b.width + k] > 0.5f ? 1.0f : 0.0f;
      hits += predicted == b.y_true[s * b.width + k];
    }
    return static_cast<double>(hits) / static_cast<double>(b.width);
  }
};

class ErrorMetric final : public Metric {
 public:
  ErrorMetric(std::string name, bool squared) : Metric(std::move(name)), squared_(squared) {}
  std::string fn() const override { return squared_ ? "mean_squared_error" : "mean_absolute_error"; }

 protected:
  double sample_value(const MetricBatch& b, int64_t s) const override {
    double sum = 0.0;
    for (int64_t k = 0; k < b.width; ++k) {
      const double e = static_cast<double>(b.y_pred[s * b.width + k]) - b.y_true[s * b.width + k];
      sum += squared_ ? e * e : std::fabs(e);
    }
    return sum / static_cast<double>(b.width);
  }

 private:
  bool squared_;
};

}  // namespace

void Metric::check(const MetricBatch& b) const {
  KEEL_CHECK(b.batch >= 0 && b.width > 0, "metric '", name_, "': invalid batch ", b.batch,
             " / width ", b.width);
  KEEL_CHECK(b.true_width == b.width, "metric '", name_, "' (", fn(), "): y_true width is ",
             b.true_width, "; expected ", b.width);
}

void Metric::update(const MetricBatch& b) {
  check(b);
  double sum = 0.0;
  for (int64_t s = 0; s < b.batch; ++s) sum += sample_value(b, s);
  // A batch contributes its per-sample mean with weight = its size (MeanMetricWrapper).
  if (b.batch > 0) mean_.update(sum / static_cast<double>(b.batch), static_cast<double>(b.batch));
}

std::string resolve_accuracy(int64_t output_width, int64_t true_width) {
  if (output_width == 1) return "binary_accuracy";
  if (true_width == 1) return "sparse_categorical_accuracy";
  return "categorical_accuracy";
}

std::unique_ptr<Metric> make_metric(std::string_view user_name, int64_t output_width,
                                    int64_t true_width) {
  std::string name(user_name);
  std::string fn = name;
  if (fn == "accuracy" || fn == "acc") fn = resolve_accuracy(output_width, true_width);
  if (fn == "sparse_categorical_accuracy") return std::make_unique<SparseCategoricalAccuracy>(name);
  if (fn == "categorical_accuracy") return std::make_unique<CategoricalAccuracy>(name);
  if (fn == "binary_accuracy") return std::make_unique<BinaryAccuracy>(name);
  if (fn == "mae" || fn == "mean_absolute_error") return std::make_unique<ErrorMetric>(name, false);
  if (fn == "mse" || fn == "mean_squared_error") return std::make_unique<ErrorMetric>(name, true);
  KEEL_FAIL("unknown metric '", user_name,
            "'; expected accuracy, acc, sparse_categorical_accuracy, categorical_accuracy, "
            "binary_accuracy, mae, mse, mean_absolute_error or mean_squared_error");
}

}  // namespace keel
