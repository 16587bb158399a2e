// fit() and evaluate() on data whose last batch is partial, against real tf.keras 2.12
// (tests/data/training/partial_batches_keras.json from tools/golden/partial_batches_keras.py).
// Keras averages a batch's loss and metric values with the batch size as weight, so a last batch
// of 2 samples counts half as much as one of 4. Compared to 1e-5 relative: the History (loss,
// metrics, val_*), the running logs after every batch, the final weights, evaluate()'s result and
// its running logs. The fixture records what an unweighted mean of the batch values would give;
// it is far from Keras's value, so this test fails for a loop that forgets the sizes.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/layers/layers.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"
#include "keras_weights.h"
#include "test_util.h"

namespace keel {
namespace {

using json = nlohmann::json;

const json& golden() {
  static const json doc = json::parse(testing::read_text(
      std::string(KEEL_SOURCE_DIR) + "/tests/data/training/partial_batches_keras.json"));
  return doc;
}

const json& golden_case(const std::string& name) {
  for (const auto& c : golden()["cases"])
    if (c["name"] == name) return c;
  static const json none;
  ADD_FAILURE() << "no case '" << name << "' in partial_batches_keras.json";
  return none;
}

// The running logs after every training and test batch.
class BatchRecorder : public Callback {
 public:
  void on_train_batch_end(int64_t, const Logs& logs) override { train.push_back(logs.items()); }
  void on_test_batch_end(int64_t, const Logs& logs) override { test.push_back(logs.items()); }
  std::vector<std::vector<std::pair<std::string, double>>> train, test;
};

void expect_near_relative(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, std::fabs(want))) << what;
}

// Every key of Keras's running logs with its value (nlohmann::json sorts the keys, so they are
// looked up; the order is checked on history_keys / evaluate_keys).
void expect_batch_logs(const std::vector<std::vector<std::pair<std::string, double>>>& got,
                       const json& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what << ": batches";
  for (size_t b = 0; b < got.size(); ++b) {
    ASSERT_EQ(got[b].size(), want[b].size()) << what << " batch " << b;
    for (const auto& [key, value] : want[b].items()) {
      const auto it = std::find_if(got[b].begin(), got[b].end(),
                                   [&k = key](const auto& kv) { return kv.first == k; });
      ASSERT_NE(it, got[b].end()) << what << " batch " << b << ": no " << key;
      expect_near_relative(it->second, value.get<double>(),
                           what + " batch " + std::to_string(b) + " " + key);
    }
  }
}

Sequential build(const std::string& name) {
  reset_default_names();
  if (name == "classifier")
    return Sequential(Dense(8, {.activation = "relu", .input_shape = {6}}), BatchNormalization(),
                      Dense(3, {.activation = "softmax"}));
  return Sequential(Dense(4, {.activation = "tanh", .input_shape = {5}}), Dense(2));
}

void check_case(const std::string& name, double learning_rate, double momentum) {
  SCOPED_TRACE(name);
  const json& g = golden_case(name);
  Sequential m = build(name);
  m.build();  // a Sequential creates its variables in build(); set_weights needs them
  testing::set_weights(m, g["initial_weights"]);
  const int64_t width = m.input_shape().sample_size(), out = m.output_shape().sample_size();
  const bool sparse = g["loss"] == "sparse_categorical_crossentropy";
  const int64_t y_width = sparse ? 1 : out;
  auto x_of = [&](const char* key) {
    const auto n = static_cast<int64_t>(g[key].size()) / width;
    return testing::tensor_of(g[key], {n, width});
  };
  auto y_of = [&](const char* key) {
    const auto n = static_cast<int64_t>(g[key].size()) / y_width;
    return testing::tensor_of(g[key], {n, y_width});
  };
  const Tensor x = x_of("x"), y = y_of("y"), xe = x_of("x_eval"), ye = y_of("y_eval");
  m.compile({.optimizer = std::make_shared<SGD>(
                 SGDOptions{.learning_rate = learning_rate, .momentum = momentum}),
             .loss = g["loss"].get<std::string>(),
             .metrics = g["metrics"].get<std::vector<std::string>>()});
  const int64_t bs = g["batch_size"].get<int64_t>();
  ASSERT_NE(x.dim(0) % bs, 0) << "the fixture must end with a partial batch";
  auto rec = std::make_shared<BatchRecorder>();
  FitOptions fit{.batch_size = bs, .epochs = 2, .verbose = 0, .shuffle = false, .callbacks = {rec}};
  Tensor xv, yv;
  if (g.contains("x_val")) {
    xv = x_of("x_val"), yv = y_of("y_val");
    fit.validation_data = DataView::of(xv, yv);
  }
  const History h = m.fit(x, y, fit);

  std::vector<std::string> keys;
  for (const auto& [key, values] : h.history) keys.push_back(key);
  EXPECT_EQ(keys, g["history_keys"].get<std::vector<std::string>>());
  for (const auto& [key, values] : g["history"].items()) {
    ASSERT_TRUE(h.contains(key)) << key;
    ASSERT_EQ(h[key].size(), values.size()) << key;
    for (size_t e = 0; e < values.size(); ++e)
      expect_near_relative(h[key][e], values[e].get<double>(), key + " epoch " + std::to_string(e));
  }
  expect_batch_logs(rec->train, g["train_batch_logs"], "fit");
  testing::expect_weights(m, g["weights"], "after fit");

  const int64_t eval_bs = g["eval_batch_size"].get<int64_t>();
  ASSERT_NE(xe.dim(0) % eval_bs, 0);
  rec->test.clear();  // fit's validation batches
  const Logs ev = m.evaluate(xe, ye, {.batch_size = eval_bs, .verbose = 0, .callbacks = {rec}});
  std::vector<std::string> eval_keys;
  for (const auto& [key, value] : ev.items()) eval_keys.push_back(key);
  EXPECT_EQ(eval_keys, g["evaluate_keys"].get<std::vector<std::string>>());
  for (const auto& [key, value] : g["evaluate"].items())
    expect_near_relative(ev.get(key).value_or(NAN), value.get<double>(), "evaluate " + key);
  expect_batch_logs(rec->test, g["eval_batch_logs"], "evaluate");

  // The fixture discriminates: an unweighted mean of batch values is far from Keras's numbers.
  for (const auto& [key, value] : g["unweighted_evaluate"].items())
    EXPECT_GT(std::fabs(value.get<double>() - g["evaluate"][key].get<double>()), 1e-3) << key;
  for (const auto& [key, value] : g["unweighted_fit_epoch_0"].items())
    EXPECT_GT(std::fabs(value.get<double>() - g["history"][key][0].get<double>()), 1e-3) << key;
}

TEST(PartialBatchesKeras, ClassifierWithBatchNormFitValidationEvaluate) {
  check_case("classifier", 0.1, 0.9);
}

TEST(PartialBatchesKeras, RegressorMseMaeFitEvaluate) { check_case("regressor", 0.05, 0.0); }

TEST(PartialBatchesKeras, FixtureHasEveryCase) {
  ASSERT_EQ(golden()["cases"].size(), 3u);
  EXPECT_TRUE(golden()["tensorflow"].get<std::string>().starts_with("2.12")) << golden()["tensorflow"];
}

}  // namespace
}  // namespace keel
