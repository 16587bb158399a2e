// Keras callbacks: EarlyStopping restores the best epoch, TerminateOnNaN stops a diverging run
// (and clipping prevents the divergence), CSVLogger appends without a second header,
// ReduceLROnPlateau / LearningRateScheduler change the optimizer's rate.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "keel/callbacks/csv_logger.h"
#include "keel/callbacks/early_stopping.h"
#include "keel/callbacks/learning_rate_scheduler.h"
#include "keel/callbacks/model_checkpoint.h"
#include "keel/callbacks/reduce_lr_on_plateau.h"
#include "keel/callbacks/terminate_on_nan.h"
#include "keel/optimizers/sgd.h"
#include "model/keras_weights.h"
#include "test_util.h"
#include "watch_helpers.h"

namespace keel {
namespace {
using namespace watch_test;

// Records the parameter arena and the logs at every epoch end.
class Recorder : public Callback {
 public:
  void on_epoch_end(int64_t, const Logs& logs) override {
    weights.push_back(arena(*model_));
    val_loss.push_back(logs.get("val_loss").value_or(NAN));
    loss.push_back(logs.get("loss").value_or(NAN));
  }
  std::vector<std::vector<float>> weights;
  std::vector<double> val_loss, loss;
};

void compile_sgd(Model& m, SGDOptions o) {
  m.compile({.optimizer = std::make_shared<SGD>(o), .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
}

TEST(EarlyStopping, RestoresTheWeightsOfTheBestEpoch) {
  Tensor x, y;
  make_data(120, x, y);
  // Validation labels scrambled, so val_loss rises soon and patience runs out.
  Tensor vx, vy;
  make_data(60, vx, vy, 9);
  for (int64_t i = 0; i < 60; ++i) vy[i] = static_cast<float>((static_cast<int>(vy[i]) + 1) % 3);
  Model m = small_model();
  compile_sgd(m, {.learning_rate = 0.1});
  auto rec = std::make_shared<Recorder>();
  std::ostringstream out;
  auto es = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.patience = 2, .verbose = 1, .restore_best_weights = true, .out = &out});
  const History h = m.fit(x, y, {.epochs = 30, .verbose = 0, .validation_data = DataView::of(vx, vy),
                                 .callbacks = {rec, es}});
  ASSERT_LT(h.epoch.size(), 30u) << "did not stop early";
  const size_t best = static_cast<size_t>(
      std::min_element(rec->val_loss.begin(), rec->val_loss.end()) - rec->val_loss.begin());
  EXPECT_EQ(es->best_epoch(), static_cast<int64_t>(best));
  EXPECT_EQ(es->stopped_epoch(), static_cast<int64_t>(best) + 2);  // patience 2 after the best
  EXPECT_EQ(arena(m), rec->weights[best]);
  EXPECT_NE(arena(m), rec->weights.back());
  EXPECT_NE(out.str().find("Restoring model weights from the end of the best epoch: " +
                           std::to_string(best + 1) + "."),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("Epoch " + std::to_string(best + 3) + ": early stopping"), std::string::npos);
}

TEST(EarlyStopping, BaselineAndMinDeltaFollowKeras) {
  // Closed form: losses 1.0, 0.95, 0.949, 0.7 with min_delta 0.01 and patience 1: epoch 1 improves
  // (0.95 < 1.0 - 0.01), epoch 2 does not (0.949 > 0.94) -> wait 1 >= patience -> stop at epoch 2.
  Model m = small_model();
  m.build();
  EarlyStopping es({.monitor = "loss", .min_delta = 0.01, .patience = 1});
  es.set_model(&m);
  es.on_train_begin({});
  const double losses[] = {1.0, 0.95, 0.949, 0.7};
  for (int e = 0; e < 4 && !m.stop_training; ++e) {
    Logs l;
    l.set("loss", losses[e]);
    es.on_epoch_end(e, l);
  }
  EXPECT_TRUE(m.stop_training);
  EXPECT_EQ(es.stopped_epoch(), 2);
  EXPECT_EQ(es.best(), 0.95);
}

// Records the running loss after every training batch.
class BatchLosses : public Callback {
 public:
  void on_train_batch_end(int64_t, const Logs& logs) override {
    loss.push_back(logs.get("loss").value_or(-1.0));
  }
  std::vector<double> loss;
};

TEST(TerminateOnNaN, StopsADivergingRunAndClippingPreventsIt) {
  Tensor x, y;
  make_data(160, x, y);  // 5 batches of 32 per epoch
  for (bool clip : {false, true}) {
    Model m = small_model();
    SGDOptions o{.learning_rate = 1e6, .on_nonfinite = NonFinitePolicy::kIgnore};
    if (clip) o.clipnorm = 1e-6;
    compile_sgd(m, o);
    std::ostringstream out;
    auto nan = std::make_shared<TerminateOnNaN>(&out);
    auto batches = std::make_shared<BatchLosses>();
    auto rec = std::make_shared<Recorder>();
    const History h = m.fit(x, y, {.epochs = 4, .verbose = 0, .callbacks = {nan, batches, rec}});
    if (!clip) {
      // The run stops after the first batch whose running loss is not finite: that batch is the
      // last one that ran, every earlier one was finite, and no later epoch started.
      ASSERT_FALSE(batches->loss.empty());
      const auto first_bad = static_cast<size_t>(
          std::find_if(batches->loss.begin(), batches->loss.end(),
                       [](double l) { return !std::isfinite(l); }) -
          batches->loss.begin());
      ASSERT_LT(first_bad, batches->loss.size()) << "the loss never became non-finite";
      EXPECT_EQ(batches->loss.size(), first_bad + 1) << "training went on after the bad batch";
      ASSERT_LT(first_bad, 5u) << "the fixture should diverge within the first epoch";
      EXPECT_EQ(h.epoch.size(), 1u);
      EXPECT_TRUE(nan->terminated());
      EXPECT_NE(out.str().find("Epoch 1, batch " + std::to_string(first_bad) +
                               ": Invalid loss, terminating training"),
                std::string::npos)
          << out.str();
    } else {
      EXPECT_FALSE(nan->terminated()) << out.str();
      EXPECT_EQ(h.epoch.size(), 4u);
      EXPECT_EQ(batches->loss.size(), 20u);
      for (double l : rec->loss) EXPECT_TRUE(std::isfinite(l));
    }
  }
}

// Against real tf.keras 2.12 (tools/golden/partial_batches_keras.py, case "terminate_on_nan"):
// 12 samples in batches of 4, target 9 is 1e20, so batch 2's squared error overflows to inf while
// its gradient and update stay finite. Keras applies that batch's update (train_step runs before
// TerminateOnNaN.on_batch_end sets stop_training), breaks out of the batch loop, still ends the
// epoch (History holds it, loss inf) and starts no other: 3 batches of the 9, and the weights
// are those the inf batch's update left, not those from before it.
TEST(TerminateOnNaN, StopsAtTheBatchWhoseLossIsInfAndKeepsItsUpdateLikeKeras) {
  const auto doc = nlohmann::json::parse(testing::read_text(
      std::string(KEEL_SOURCE_DIR) + "/tests/data/training/partial_batches_keras.json"));
  nlohmann::json g;
  for (const auto& c : doc["cases"])
    if (c["name"] == "terminate_on_nan") g = c;
  ASSERT_FALSE(g.is_null());
  reset_default_names();
  Sequential m(Dense(3, {.activation = "tanh", .input_shape = {3}}), Dense(1));
  m.build();
  testing::set_weights(m, g["initial_weights"]);
  const Tensor x = testing::tensor_of(g["x"], {12, 3}), y = testing::tensor_of(g["y"], {12, 1});
  // Keras never checks gradients: kIgnore applies whatever the step computes, as Keras does.
  m.compile({.optimizer = std::make_shared<SGD>(
                 SGDOptions{.learning_rate = 0.01, .on_nonfinite = NonFinitePolicy::kIgnore}),
             .loss = "mse"});
  std::ostringstream out;
  auto nan = std::make_shared<TerminateOnNaN>(&out);
  auto batches = std::make_shared<BatchLosses>();
  const History h = m.fit(x, y, {.batch_size = 4, .epochs = g["epochs"].get<int64_t>(), .verbose = 0,
                                 .shuffle = false, .callbacks = {nan, batches}});
  ASSERT_EQ(g["batches_run"], 3);
  ASSERT_EQ(batches->loss.size(), 3u) << "Keras stops right after batch 2 (of 9)";
  for (size_t b = 0; b < 2; ++b) {
    const double want = g["train_batch_logs"][b]["loss"].get<double>();
    EXPECT_NEAR(batches->loss[b], want, 1e-5 * std::max(1.0, std::fabs(want))) << "batch " << b;
  }
  EXPECT_EQ(g["train_batch_logs"][2]["loss"], "inf");
  EXPECT_TRUE(std::isinf(batches->loss[2]) && batches->loss[2] > 0) << batches->loss[2];
  ASSERT_EQ(g["history_epochs"], 1);
  ASSERT_EQ(h.epoch.size(), 1u);
  EXPECT_TRUE(std::isinf(h["loss"][0]));
  EXPECT_NE(out.str().find("Epoch 1, batch 2: Invalid loss, terminating training"),
            std::string::npos)
      << out.str();
  // The update of the inf batch is in the weights (~1e17 after it, ~0.3 before).
  EXPECT_NE(g["weights"], g["weights_before_batch_2"]);
  testing::expect_weights(m, g["weights"], "after TerminateOnNaN");
}

TEST(CSVLogger, KerasLayoutAndAppendWithoutSecondHeader) {
  Tensor x, y;
  make_data(100, x, y);
  const auto dir = fresh_dir("csv");
  const auto file = dir / "log.csv";
  Model m = small_model();
  compile_sgd(m, {.learning_rate = 0.05});
  m.fit(x, y, {.epochs = 2, .verbose = 0, .validation_split = 0.2,
               .callbacks = {std::make_shared<CSVLogger>(file)}});
  // A stale row for epoch 2 (a run killed after logging but before its checkpoint) is dropped.
  { std::ofstream(file, std::ios::app) << "2,0.5,0.5,0.5,0.5\n"; }
  m.fit(x, y, {.epochs = 4, .initial_epoch = 2, .verbose = 0, .validation_split = 0.2,
               .callbacks = {std::make_shared<CSVLogger>(file, ",", /*append=*/true)}});
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
  for (int e = 0; e < 4; ++e) EXPECT_TRUE(lines[e + 1].starts_with(std::to_string(e) + ",")) << lines[e + 1];
  EXPECT_EQ(lines[3].find("0.5,0.5"), std::string::npos);
}

TEST(CSVLogger, PythonFloatRepr) {
  // Expected strings are Python 3's repr() of the same doubles.
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(1e-05), "1e-05");
  EXPECT_EQ(python_float_repr(123456.5), "123456.5");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(python_float_repr(static_cast<double>(0.8234f)), "0.8234000205993652");
  EXPECT_EQ(python_float_repr(NAN), "nan");
  // numpy: repr(np.float32(0.05)) == "0.05", repr(np.float32(1e-7)) == "1e-07"
  EXPECT_EQ(numpy_float32_repr(0.05f), "0.05");
  EXPECT_EQ(numpy_float32_repr(1e-7f), "1e-07");
}

TEST(ReduceLROnPlateau, ReducesAfterPatienceWithCooldown) {
  Model m = small_model();
  compile_sgd(m, {.learning_rate = 0.1});
  std::ostringstream out;
  ReduceLROnPlateau r({.monitor = "loss", .factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.03, .out = &out});
  r.set_model(&m);
  r.on_train_begin({});
  // Keras's order: epoch 0 sets best; epoch 1 wait 1; epoch 2 wait 2 -> 0.05, cooldown 1;
  // epoch 3 spends the cooldown (counter 0) and, no longer in cooldown, counts wait 1; epoch 4
  // wait 2 -> max(0.025, 0.03) = 0.03; later plateaus cannot go below min_lr.
  std::vector<double> lrs;
  for (int e = 0; e < 9; ++e) {
    Logs l;
    l.set("loss", 1.0);
    r.on_epoch_end(e, l);
    lrs.push_back(m.optimizer().learning_rate());
  }
  const double f01 = static_cast<double>(0.1f);
  EXPECT_EQ(lrs[1], f01);
  EXPECT_EQ(lrs[2], static_cast<double>(static_cast<float>(f01 * 0.5)));
  EXPECT_EQ(lrs[3], lrs[2]);
  EXPECT_NEAR(lrs[4], 0.03, 1e-8);
  EXPECT_NEAR(lrs[8], 0.03, 1e-8);
  EXPECT_NE(out.str().find("Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05"), std::string::npos)
      << out.str();
}

// A monitored value missing from the logs (a typo, or val_loss without validation data): Keras
// logs a warning each epoch and the callback does nothing; keel did nothing silently.
TEST(MonitoringCallbacks, WarnLikeKerasWhenTheMonitoredValueIsMissing) {
  Model m = small_model();
  compile_sgd(m, {.learning_rate = 0.1});
  EarlyStopping es({.monitor = "val_los", .patience = 0});
  ReduceLROnPlateau r({.monitor = "val_loss", .patience = 0});
  ModelCheckpoint mc("/nonexistent-dir/never-written", {.monitor = "val_acc", .save_best_only = true});
  Logs logs;
  logs.set("loss", 0.5);
  logs.set("accuracy", 0.75);
  for (Callback* c : std::initializer_list<Callback*>{&es, &r, &mc}) {
    c->set_model(&m);
    c->on_train_begin({});
  }
  ::testing::internal::CaptureStderr();
  for (int e = 0; e < 2; ++e)
    for (Callback* c : std::initializer_list<Callback*>{&es, &r, &mc}) c->on_epoch_end(e, logs);
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string available = "Available metrics are: loss,accuracy\n";
  const std::string early = "WARNING: Early stopping conditioned on metric `val_los` which is not available. " + available;
  const std::string plateau =
      "WARNING: Learning rate reduction is conditioned on metric `val_loss` which is not available. " + available;
  const std::string checkpoint = "WARNING: Can save best model only with val_acc available, skipping.\n";
  EXPECT_EQ(err, early + plateau + checkpoint + early + plateau + checkpoint);
  EXPECT_FALSE(m.stop_training);
  EXPECT_EQ(m.optimizer().learning_rate(), static_cast<double>(0.1f));
}

TEST(LearningRateScheduler, SetsTheRateEachEpoch) {
  Tensor x, y;
  make_data(64, x, y);
  Model m = small_model();
  compile_sgd(m, {.learning_rate = 0.1});
  std::vector<double> seen;
  auto sched = std::make_shared<LearningRateScheduler>([&](int64_t epoch, double lr) {
    seen.push_back(lr);
    return epoch < 1 ? lr : lr * 0.5;
  });
  m.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {sched}});
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NEAR(seen[2], 0.05, 1e-8);
  EXPECT_NEAR(m.optimizer().learning_rate(), 0.025, 1e-8);
}

}  // namespace
}  // namespace keel
