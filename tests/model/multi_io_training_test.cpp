// Training a model with two inputs and two outputs against real tf.keras 2.12
// (tests/data/functional/multi_io_training.json from tools/golden/multi_io_keras.py): per-output
// losses with loss_weights, "accuracy" on both outputs, fit with a partial last batch, then
// evaluate and predict. History keys and values, final weights, evaluate and predict all match.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "functional_models.h"
#include "keel/optimizers/sgd.h"
#include "keras_weights.h"
#include "test_util.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace keel {
namespace {

using json = nlohmann::json;

const json& golden() {
  static const json doc = json::parse(testing::read_text(
      std::string(KEEL_SOURCE_DIR) + "/tests/data/functional/multi_io_training.json"));
  return doc;
}

Model two_in_two_out() {
  KerasTensor a = Input({6}), b = Input({4});
  KerasTensor ha = Dense(5, {.activation = "tanh"})(a);
  KerasTensor hb = Dense(5, {.activation = "relu"})(b);
  KerasTensor cls = Dense(3, {.activation = "softmax", .name = "cls"})(Concatenate()({ha, hb}));
  KerasTensor reg = Dense(2, {.name = "reg"})(Add()({ha, hb}));
  return Model({a, b}, {cls, reg});
}

struct Fixture {
  Model model = (reset_default_names(), two_in_two_out());
  std::vector<Tensor> xs, ys;
  Fixture() {
    const json& g = golden();
    testing::set_weights(model, g["initial_weights"]);
    xs.push_back(testing::tensor_of(g["xa"], {10, 6}));
    xs.push_back(testing::tensor_of(g["xb"], {10, 4}));
    ys.push_back(testing::tensor_of(g["y_cls"], {10, 1}));
    ys.push_back(testing::tensor_of(g["y_reg"], {10, 2}));
    model.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9}),
                   .losses = {"sparse_categorical_crossentropy", "mse"},
                   .loss_weights = {1.0, 0.5},
                   .metrics = {"accuracy"}});
  }
};

void expect_near_relative(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, std::fabs(want))) << what;
}

TEST(MultiIoTraining, FitMatchesTfKerasHistoryAndWeights) {
  Fixture f;
  const History history = f.model.fit(f.xs, f.ys, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false});
  const json& g = golden();
  std::vector<std::string> keys;
  for (const auto& [key, values] : history.history) keys.push_back(key);
  EXPECT_EQ(keys, g["history_keys"].get<std::vector<std::string>>());
  for (const auto& [key, values] : g["history"].items()) {
    ASSERT_TRUE(history.contains(key)) << key;
    for (size_t e = 0; e < values.size(); ++e)
      expect_near_relative(history[key][e], values[e].get<double>(), key + " epoch " + std::to_string(e));
  }
  testing::expect_weights(f.model, g["weights"], "after fit");

  const Logs evaluated = f.model.evaluate(f.xs, f.ys, {.batch_size = 4, .verbose = 0});
  std::vector<std::string> eval_keys;
  for (const auto& [key, value] : evaluated.items()) eval_keys.push_back(key);
  EXPECT_EQ(eval_keys, g["evaluate_keys"].get<std::vector<std::string>>());
  for (const auto& [key, value] : g["evaluate"].items())
    expect_near_relative(evaluated.get(key).value_or(NAN), value.get<double>(), "evaluate " + key);

  const std::vector<Tensor> predicted = f.model.predict(f.xs);
  ASSERT_EQ(predicted.size(), 2u);
  for (size_t o = 0; o < 2; ++o) {
    const json& want = g["predict"][o];
    ASSERT_EQ(static_cast<size_t>(predicted[o].size()), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      expect_near_relative(predicted[o][int64_t(i)], want[i].get<double>(), "predict output " + std::to_string(o));
  }
}

TEST(MultiIoTraining, LossWeightScalesOnlyItsOutputsGradient) {
  // Zero weight on "reg": training must equal training "cls" alone, so reg's kernel and bias get
  // no gradient and stay at their initial values.
  reset_default_names();
  Model model = two_in_two_out();
  testing::set_weights(model, golden()["initial_weights"]);
  model.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
                 .losses = {"sparse_categorical_crossentropy", "mse"},
                 .loss_weights = {1.0, 0.0}});
  Fixture f;
  model.train_on_batch(f.xs, f.ys);
  for (Variable* v : model.variables()) {
    if (v->name.rfind("reg/", 0) != 0) continue;
    const json& initial = golden()["initial_weights"][v->name];
    for (int64_t i = 0; i < v->size(); ++i) EXPECT_EQ(v->value[i], initial[size_t(i)].get<float>()) << v->name;
  }
}

// validation_data=([xa, xb], [y_cls, y_reg]): the epoch's val_* logs are evaluate() on those
// arrays with the weights at the epoch's end.
TEST(MultiIoTraining, ValidationArraysPerInputAndOutput) {
  Fixture f, g;
  const std::vector<Tensor> vx = {f.xs[0], f.xs[1]}, vy = {f.ys[0], f.ys[1]};
  const History h = f.model.fit(f.xs, f.ys, {.batch_size = 4, .epochs = 1, .verbose = 0,
                                             .shuffle = false, .validation_xs = vx, .validation_ys = vy});
  const Logs evaluated = f.model.evaluate(vx, vy, {.batch_size = 4, .verbose = 0});
  ASSERT_FALSE(evaluated.items().empty());
  for (const auto& [key, value] : evaluated.items()) {
    ASSERT_TRUE(h.contains("val_" + key)) << key;
    EXPECT_DOUBLE_EQ(h["val_" + key].at(0), value) << key;
  }
  // Training is unchanged by validating.
  g.model.fit(g.xs, g.ys, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false});
  testing::expect_weights(f.model, [&] {
    json w;
    for (const Variable* v : g.model.variables()) w[v->name] = std::vector<float>(v->value, v->value + v->size());
    return w;
  }(), "validated vs not");
  const std::vector<Tensor> one = {f.xs[0]};
  const std::string missing = testing::error_of([&] {
    f.model.fit(f.xs, f.ys, {.verbose = 0, .validation_xs = one, .validation_ys = vy});
  });
  EXPECT_NE(missing.find("validation data: 1 input arrays given but model 'model' has 2 inputs"),
            std::string::npos) << missing;
}

TEST(MultiIoTraining, ErrorsNameTheCounts) {
  Fixture f;
  const std::string too_few = testing::error_of([&] { f.model.fit(std::span(f.xs).first(1), f.ys); });
  EXPECT_NE(too_few.find("1 input arrays given but model 'model' has 2 inputs"), std::string::npos) << too_few;
  const std::string labels = testing::error_of([&] { f.model.train_on_batch(f.xs, std::span(f.ys).first(1)); });
  EXPECT_NE(labels.find("1 label arrays given"), std::string::npos) << labels;
  const Tensor short_b({7, 4});
  const std::vector<Tensor> uneven = {f.xs[0], short_b};
  const std::string rows = testing::error_of([&] { f.model.evaluate(uneven, f.ys, {.verbose = 0}); });
  EXPECT_NE(rows.find("input 1 ('input_2') holds 7 samples but input 0 holds 10"), std::string::npos) << rows;
  const std::string weights = testing::error_of([&] {
    f.model.compile({.loss = "mse", .loss_weights = {1.0}});
  });
  EXPECT_NE(weights.find("1 loss_weights given for the 2 outputs of model 'model' ('cls', 'reg')"),
            std::string::npos) << weights;
  const std::string losses = testing::error_of([&] {
    f.model.compile({.losses = {"mse", "mse", "mse"}});
  });
  EXPECT_NE(losses.find("3 losses given for the 2 outputs"), std::string::npos) << losses;
  const std::string single = testing::error_of([&] { f.model.predict(f.xs[0]); });
  EXPECT_NE(single.find("2 inputs and 2 outputs"), std::string::npos) << single;
}

}  // namespace
}  // namespace keel
