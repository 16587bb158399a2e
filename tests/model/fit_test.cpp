// The Keras training API on small synthetic data: determinism, const inference, Keras batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/threads.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

// A separable 3-class problem on 6 features.
void make_data(int64_t n, Tensor& x, Tensor& y, uint64_t seed = 3) {
  Rng rng(seed);
  x = Tensor({n, 6});
  y = Tensor({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(rng.uniform_int(3));
    y[i] = static_cast<float>(label);
    for (int64_t j = 0; j < 6; ++j)
      x[i * 6 + j] = static_cast<float>(rng.normal() * 0.5 + (j % 3 == label ? 2.0 : 0.0));
  }
}

Sequential small_model() {
  return Sequential(Flatten({.input_shape = {6}}), BatchNormalization(),
                    Dense(16, {.activation = "elu", .kernel_initializer = "he_normal"}),
                    BatchNormalization(), Dense(3, {.activation = "softmax"}));
}

std::vector<float> arena(Model& m) {
  auto a = m.parameter_arena();
  return {a.begin(), a.end()};
}

TEST(Fit, LearnsAndReportsKerasHistoryKeys) {
  Tensor x, y;
  make_data(300, x, y);
  Model m = small_model();
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}),
             .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const History h = m.fit(x, y, {.epochs = 5, .verbose = 0, .validation_split = 0.2});
  ASSERT_EQ(h.epoch.size(), 5u);
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
    ASSERT_TRUE(h.contains(key)) << key;
    EXPECT_EQ(h[key].size(), 5u);
  }
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_GT(h["val_accuracy"].back(), 0.9);
  // validation_split takes the last 20% (60 samples), so training saw 240 per epoch.
  EXPECT_EQ(h.train_samples, 5 * 240);
}

// Records the order in which fit / evaluate call the hooks.
class HookRecorder : public Callback {
 public:
  void on_epoch_begin(int64_t e, const Logs&) override { events.push_back("epoch_begin " + std::to_string(e)); }
  void on_epoch_end(int64_t e, const Logs& logs) override {
    events.push_back("epoch_end " + std::to_string(e) + (logs.get("val_loss") ? " val_loss" : ""));
  }
  void on_train_batch_end(int64_t b, const Logs&) override { events.push_back("train " + std::to_string(b)); }
  void on_test_begin(const Logs&) override { events.push_back("test_begin"); }
  void on_test_batch_begin(int64_t b, const Logs&) override { events.push_back("test_batch_begin " + std::to_string(b)); }
  void on_test_batch_end(int64_t b, const Logs& logs) override {
    events.push_back("test_batch_end " + std::to_string(b) + (logs.get("loss") ? " loss" : ""));
  }
  void on_test_end(const Logs& logs) override {
    events.push_back(std::string("test_end") + (logs.get("loss") && !logs.get("val_loss") ? " loss" : ""));
  }
  std::vector<std::string> events;
};

TEST(Fit, ValidationAndEvaluateCallTheTestHooksAsKeras) {
  Tensor x, y;
  make_data(10, x, y);
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy"});
  auto recorder = std::make_shared<HookRecorder>();
  // 8 training samples in batches of 4, 2 validation samples in one batch.
  m.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .validation_split = 0.2, .callbacks = {recorder}});
  const std::vector<std::string> fit_events = {
      "epoch_begin 0", "train 0", "train 1", "test_begin", "test_batch_begin 0",
      "test_batch_end 0 loss", "test_end loss", "epoch_end 0 val_loss"};
  EXPECT_EQ(recorder->events, fit_events);
  auto evaluator = std::make_shared<HookRecorder>();
  m.evaluate(x, y, {.batch_size = 6, .verbose = 0, .callbacks = {evaluator}});
  const std::vector<std::string> evaluate_events = {
      "test_begin", "test_batch_begin 0", "test_batch_end 0 loss", "test_batch_begin 1",
      "test_batch_end 1 loss", "test_end loss"};
  EXPECT_EQ(evaluator->events, evaluate_events);
}

TEST(Fit, SameSeedGivesBitIdenticalWeightsWhateverTheThreadCount) {
  Tensor x, y;
  make_data(200, x, y);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 1}) {
    set_num_threads(threads);
    reset_default_names();
    Model m = small_model();
    m.build(std::nullopt, 7);
    m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.momentum = 0.9, .clipnorm = 1.0}),
               .loss = "sparse_categorical_crossentropy"});
    m.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0, .seed = 11});
    results.push_back(arena(m));
  }
  set_num_threads(2);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(Fit, EvaluateAndPredictNeverChangeTheModel) {
  Tensor x, y;
  make_data(100, x, y);
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  m.fit(x, y, {.epochs = 1, .verbose = 0});
  const auto before = arena(m);
  const Logs a = m.evaluate(x, y, {.verbose = 0});
  const Logs b = m.evaluate(x, y, {.verbose = 0});
  const Tensor p1 = m.predict(x);
  const Tensor p2 = m.predict(x, 7);
  EXPECT_EQ(before, arena(m));
  EXPECT_EQ(*a.get("loss"), *b.get("loss"));
  // Batch-size invariance to the bit holds for oneDNN's AVX-512 kernels; its AVX2 gemm:jit rounds
  // differently for different row counts (see KernelsGemm.ResultsIndependentOfThreadCount).
  const bool bitwise = __builtin_cpu_supports("avx512f");
  for (int64_t i = 0; i < p1.size(); ++i) {
    if (bitwise) ASSERT_EQ(p1[i], p2[i]);
    else ASSERT_NEAR(p1[i], p2[i], 1e-6f * std::max(1.0f, std::fabs(p1[i])));
  }
}

TEST(Fit, PredictDoesNotDependOnTheBatchCompanions) {
  // keras-team/keras #12400: inference must never use batch statistics.
  Tensor x, y;
  make_data(40, x, y);
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy"});
  m.fit(x, y, {.epochs = 2, .verbose = 0});
  const Tensor all = m.predict(x, 40);
  for (int64_t i = 0; i < 40; ++i) {
    Tensor one({1, 6}, {x.data() + i * 6, 6});
    const Tensor p = m.predict(one);
    for (int64_t k = 0; k < 3; ++k) EXPECT_NEAR(p[k], all[i * 3 + k], 1e-6);
  }
}

TEST(Fit, KeepsTheLastPartialBatchAndSurvivesABatchOfOne) {
  Tensor x, y;
  make_data(33, x, y);  // 32 + 1: the last training batch holds a single sample
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy"});
  const History h = m.fit(x, y, {.batch_size = 32, .epochs = 2, .verbose = 0});
  EXPECT_EQ(h.train_samples, 66);
  for (float v : m.parameter_arena()) ASSERT_TRUE(std::isfinite(v));
}

TEST(Fit, PrintsKerasEpochLinesOffATerminal) {
  Tensor x, y;
  make_data(100, x, y);
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  std::ostringstream out;
  m.fit(x, y, {.batch_size = 32, .epochs = 2, .verbose = 1, .validation_split = 0.2, .out = &out});
  const std::regex epoch_line(
      R"(Epoch 1/2\n3/3 \[==============================\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}\nEpoch 2/2\n3/3 .*\n)");
  EXPECT_TRUE(std::regex_match(out.str(), epoch_line)) << out.str();
}

class StopAfterBatch : public Callback {
 public:
  void on_train_batch_end(int64_t batch, const Logs&) override {
    if (batch == 1) model_->stop_training = true;
  }
};

TEST(Fit, StopTrainingEndsAfterTheCurrentBatch) {
  Tensor x, y;
  make_data(100, x, y);
  Model m = small_model();
  m.compile({.loss = "sparse_categorical_crossentropy"});
  const History h = m.fit(x, y, {.batch_size = 10, .epochs = 3, .verbose = 0,
                                 .callbacks = {std::make_shared<StopAfterBatch>()}});
  EXPECT_EQ(h.train_samples, 20);
  EXPECT_EQ(h.epoch.size(), 1u);
}

// compile() or build() from a callback would free the buffers the running fit steps through (a
// crash, or training on freed memory); they refuse with an error naming the call. predict and
// evaluate inside fit stay allowed (Keras callbacks do both).
class ChangeModelAtEpochEnd : public Callback {
 public:
  explicit ChangeModelAtEpochEnd(bool compile) : compile_(compile) {}
  void on_epoch_end(int64_t, const Logs&) override {
    Tensor x({4, 6});
    predicted_rows = model_->predict(x).dim(0);
    if (compile_) model_->compile({.loss = "sparse_categorical_crossentropy"});
    else model_->build(std::nullopt, 7);
  }
  int64_t predicted_rows = 0;

 private:
  bool compile_;
};

TEST(Fit, CompileOrBuildFromACallbackIsRefusedNotACrash) {
  Tensor x, y;
  make_data(40, x, y);
  for (const bool compile : {true, false}) {
    Model m = small_model();
    m.compile({.loss = "sparse_categorical_crossentropy"});
    auto callback = std::make_shared<ChangeModelAtEpochEnd>(compile);
    try {
      m.fit(x, y, {.batch_size = 10, .epochs = 2, .verbose = 0, .callbacks = {callback}});
      FAIL() << "fit went on after " << (compile ? "compile()" : "build()") << " in a callback";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(compile ? "compile() called while its fit() is running"
                                  : "build() called while its fit() is running"),
                std::string::npos) << what;
    }
    EXPECT_EQ(callback->predicted_rows, 4);
    // Once fit has returned (here: thrown), the model can be compiled and trained again.
    m.compile({.loss = "sparse_categorical_crossentropy"});
    EXPECT_EQ(m.fit(x, y, {.batch_size = 10, .epochs = 1, .verbose = 0}).epoch.size(), 1u);
  }
}

// Samples shaped (3, 2) hold the six values of a (2, 3) input in another layout: an error naming
// both shapes (Keras: "incompatible input"), not a silent transpose. Flat rows stay accepted.
TEST(Fit, SamplesInAnotherLayoutThanTheInputAreRefused) {
  reset_default_names();
  Sequential m(Flatten({.input_shape = {2, 3}}), Dense(2, {.activation = "softmax"}));
  m.compile({.loss = "sparse_categorical_crossentropy"});
  Tensor y({4});
  const std::string expected = "samples of shape (None, 3, 2) do not match the model's input (None, 2, 3)";
  Tensor transposed({4, 3, 2});
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { m.predict(transposed); },
           [&] { m.predict(DataView::of(transposed)); },
           [&] { m.fit(transposed, y, {.verbose = 0}); },
           [&] { m.evaluate(transposed, y, {.verbose = 0}); },
           [&] { m.train_on_batch(transposed, y); }}) {
    try {
      call();
      ADD_FAILURE() << "accepted (4, 3, 2) samples for a (None, 2, 3) input";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(m.predict(Tensor({4, 6})).dim(0), 4);
  EXPECT_EQ(m.predict(Tensor({4, 2, 3})).dim(0), 4);
}

TEST(Fit, RejectsBadArgumentsWithClearErrors) {
  Tensor x, y;
  make_data(10, x, y);
  Model m = small_model();
  EXPECT_THROW(m.fit(x, y), Error);  // not compiled
  m.compile({.loss = "sparse_categorical_crossentropy"});
  EXPECT_THROW(m.fit(x, y, {.batch_size = 0}), Error);
  EXPECT_THROW(m.fit(x, y, {.epochs = 0}), Error);
  Tensor wrong({10, 5});
  try {
    m.fit(wrong, y, {.verbose = 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(None, 6)"), std::string::npos) << e.what();
  }
}


// fit() overwrites gradients instead of zeroing them each step. A layer frozen after compile()
// (Keras: the optimizer sees it at the next compile) that ends up below every trainable layer is
// no longer run backward; its gradients must then read 0, not replay the last step's values,
// so plain SGD leaves it where it was (as zeroing every step did).
TEST(Fit, LayerFrozenAfterCompileBelowTheRestIsNotMovedByStaleGradients) {
  Tensor x, y;
  make_data(64, x, y);
  Model m = small_model();
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
             .loss = "sparse_categorical_crossentropy"});
  m.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0});
  m.layer(1).set_trainable(false);  // the input BatchNormalization, the lowest trainable layer
  const std::vector<float> before(m.layer(1).variables()[0].value,
                                  m.layer(1).variables()[0].value + 6);  // gamma
  m.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
  for (int64_t c = 0; c < 6; ++c) EXPECT_EQ(m.layer(1).variables()[0].value[c], before[size_t(c)]) << c;
}

}  // namespace
}  // namespace keel
