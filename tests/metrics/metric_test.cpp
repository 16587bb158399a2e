// Metrics: hand-derived values (Keras MeanMetricWrapper semantics).
#include <gtest/gtest.h>

#include "keel/core/error.h"
#include "keel/metrics/metric.h"

namespace keel {
namespace {

TEST(MetricMean, PartialLastBatchWeighsLess) {
  // Keras loss tracker: batches of 32 with mean loss 1.0 and a last batch of 8 with mean 3.0:
  // (32*1 + 8*3) / 40 = 1.4, not the unweighted (1 + 3) / 2 = 2.
  Mean tracker;
  EXPECT_EQ(tracker.result(), 0.0);
  tracker.update(1.0, 32);
  tracker.update(3.0, 8);
  EXPECT_DOUBLE_EQ(tracker.result(), 1.4);
  tracker.reset();
  EXPECT_EQ(tracker.result(), 0.0);
}

TEST(MetricAccuracy, ResolvesLikeKeras) {
  EXPECT_EQ(resolve_accuracy(10, 1), "sparse_categorical_accuracy");
  EXPECT_EQ(resolve_accuracy(10, 10), "categorical_accuracy");
  EXPECT_EQ(resolve_accuracy(1, 1), "binary_accuracy");
  auto m = make_metric("accuracy", 10, 1);
  EXPECT_EQ(m->name(), "accuracy");
  EXPECT_EQ(m->fn(), "sparse_categorical_accuracy");
  EXPECT_EQ(make_metric("acc", 3, 3)->name(), "acc");
  EXPECT_THROW(make_metric("f1", 3, 3), Error);
}

TEST(MetricAccuracy, SparseAccumulatesOverBatchesBySampleCount) {
  auto m = make_metric("accuracy", 3, 1);
  // Batch 1: argmax rows = 2, 0, 1 (tie 0.4/0.4 -> first index 0); labels 2, 1, 1 -> 2/3 hits.
  const float p1[9] = {0.1f, 0.2f, 0.7f, 0.4f, 0.4f, 0.2f, 0.0f, 1.0f, 0.0f};
  const float y1[3] = {2, 1, 1};
  m->update({p1, y1, 3, 3, 1});
  EXPECT_NEAR(m->result(), 2.0 / 3.0, 1e-12);
  // Batch 2 (partial): one miss. Total 2 hits / 4 samples.
  const float p2[3] = {0.9f, 0.05f, 0.05f};
  const float y2[1] = {2};
  m->update({p2, y2, 1, 3, 1});
  EXPECT_NEAR(m->result(), 0.5, 1e-12);
  m->reset();
  EXPECT_EQ(m->result(), 0.0);
  EXPECT_THROW(m->update({p1, p1, 3, 3, 3}), Error);  // one-hot labels to a sparse metric
}

TEST(MetricAccuracy, CategoricalAndBinary) {
  auto cat = make_metric("categorical_accuracy", 3, 3);
  const float p[6] = {0.1f, 0.8f, 0.1f, 0.5f, 0.3f, 0.2f};
  const float t[6] = {0, 1, 0, 0, 0, 1};
  cat->update({p, t, 2, 3, 3});
  EXPECT_DOUBLE_EQ(cat->result(), 0.5);

  // Width 2 binary: per-sample mean over the last axis. Threshold is strict (> 0.5).
  auto bin = make_metric("accuracy", 1, 1);
  EXPECT_EQ(bin->fn(), "binary_accuracy");
  const float bp[3] = {0.5f, 0.51f, 0.2f};
  const float bt[3] = {1, 1, 0};
  bin->update({bp, bt, 3, 1, 1});
  EXPECT_NEAR(bin->result(), 2.0 / 3.0, 1e-12);
  auto bin2 = make_metric("binary_accuracy", 2, 2);
  const float bp2[4] = {0.9f, 0.9f, 0.1f, 0.9f};
  const float bt2[4] = {1, 0, 0, 1};
  bin2->update({bp2, bt2, 2, 2, 2});
  EXPECT_DOUBLE_EQ(bin2->result(), 0.75);
}

TEST(MetricError, MaeAndMse) {
  auto mae = make_metric("mae", 2, 2);
  auto mse = make_metric("mean_squared_error", 2, 2);
  const float p[4] = {1, 2, 3, 4};
  const float t[4] = {0, 4, 3, 3};
  mae->update({p, t, 2, 2, 2});  // per-sample (1+2)/2 = 1.5, (0+1)/2 = 0.5 -> 1.0
  mse->update({p, t, 2, 2, 2});  // (1+4)/2 = 2.5, (0+1)/2 = 0.5 -> 1.5
  EXPECT_DOUBLE_EQ(mae->result(), 1.0);
  EXPECT_DOUBLE_EQ(mse->result(), 1.5);
  EXPECT_EQ(mae->name(), "mae");
  EXPECT_EQ(mse->fn(), "mean_squared_error");
}

}  // namespace
}  // namespace keel
