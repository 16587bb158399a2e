// Whole training steps of seed-style models against PyTorch with Keras conventions
// (tools/golden/training_steps.py): forward, loss from softmax logits, backward through BN and ELU,
// clipnorm / global_clipnorm, SGD with Keras momentum, BN moving statistics, then inference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "keel/layers/layers.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

namespace keel {
namespace {

nlohmann::json load_case(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/training/" + name + ".json");
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

Sequential make_model(bool bn_before) {
  reset_default_names();
  if (!bn_before) {
    return Sequential(Flatten({.input_shape = {4, 5}}), BatchNormalization(),
                      Dense(12, {.activation = "elu"}), BatchNormalization(),
                      Dense(8, {.activation = "elu"}), BatchNormalization(),
                      Dense(5, {.activation = "softmax"}));
  }
  return Sequential(Flatten({.input_shape = {4, 5}}), BatchNormalization(),
                    Dense(12, {.use_bias = false}), BatchNormalization(), Activation("elu"),
                    Dense(8, {.use_bias = false}), BatchNormalization(), Activation("elu"),
                    Dense(5, {.activation = "softmax"}));
}

Tensor to_tensor(const nlohmann::json& rows) {
  const auto n = static_cast<int64_t>(rows.size());
  const auto w = static_cast<int64_t>(rows[0].size());
  Tensor t({n, w});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j) t[i * w + j] = rows[i][j].get<float>();
  return t;
}

void expect_close(const float* actual, const nlohmann::json& expected, double tolerance,
                  const std::string& what) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = expected[i].get<double>();
    ASSERT_NEAR(actual[i], e, tolerance * std::max(1.0, std::fabs(e))) << what << "[" << i << "]";
  }
}

class TrainingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainingGolden, MatchesPyTorchWithKerasConventions) {
  const nlohmann::json c = load_case(GetParam());
  Model model = make_model(c["bn_before"].get<bool>());
  const double tolerance = c.value("tolerance", 1e-5);
  model.build();
  // Load the generator's initial weights by name.
  for (Variable* v : model.variables()) {
    ASSERT_TRUE(c["initial"].contains(v->name)) << v->name;
    const auto& init = c["initial"][v->name];
    std::vector<float> flat;
    if (init[0].is_array()) {
      for (const auto& row : init)
        for (const auto& x : row) flat.push_back(x.get<float>());
    } else {
      for (const auto& x : init) flat.push_back(x.get<float>());
    }
    ASSERT_EQ(static_cast<int64_t>(flat.size()), v->size()) << v->name;
    std::memcpy(v->value, flat.data(), flat.size() * sizeof(float));
  }
  nlohmann::json config = {{"learning_rate", c["learning_rate"]}};
  if (c.value("optimizer", "sgd") == "sgd") {
    config["momentum"] = c["momentum"];
    config["nesterov"] = c.value("nesterov", false);
  }
  if (c["clip"] != "none") config[c["clip"].get<std::string>()] = c["clip_value"];
  std::shared_ptr<Optimizer> optimizer = make_optimizer(c.value("optimizer", "sgd"), config);
  model.compile({.optimizer = optimizer, .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});

  for (size_t s = 0; s < c["steps"].size(); ++s) {
    const auto& batch = c["batches"][s];
    Tensor x = to_tensor(batch["x"]);
    x.reshape({x.dim(0), 4, 5});
    Tensor y({static_cast<int64_t>(batch["y"].size()), 1});
    for (size_t i = 0; i < batch["y"].size(); ++i) y[static_cast<int64_t>(i)] = batch["y"][i].get<float>();
    const Logs logs = model.train_on_batch(x, y);
    const auto& step = c["steps"][s];
    EXPECT_NEAR(*logs.get("loss"), step["loss"].get<double>(), 1e-5 * std::max(1.0, step["loss"].get<double>()))
        << "step " << s;
    EXPECT_NEAR(model.last_step().preclip_global_norm, step["preclip_global_norm"].get<double>(),
                1e-4 * step["preclip_global_norm"].get<double>())
        << "step " << s;
    if (!step.contains("weights")) continue;
    for (const Variable* v : model.variables()) {
      expect_close(v->value, step["weights"][v->name], tolerance, v->name + " after step " + std::to_string(s));
    }
  }
  Tensor x_eval = to_tensor(c["eval_x"]);
  x_eval.reshape({x_eval.dim(0), 4, 5});
  const Tensor probs = model.predict(x_eval);
  const Tensor expected = to_tensor(c["eval_probs"]);
  for (int64_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(probs[i], expected[i], tolerance) << i;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names = {"seed_mlp_clipnorm", "seed_mlp_bn_before_global_momentum",
                                    "seed_mlp_noclip_momentum"};
  // Issue 3's matrix: 20 steps of each optimizer with each clip rule.
  for (const char* opt : {"sgd", "sgd_momentum", "sgd_nesterov", "adam"})
    for (const char* clip : {"clipvalue", "clipnorm", "global_clipnorm"})
      names.push_back(std::string("steps20_") + opt + "_" + clip);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrainingGolden, ::testing::ValuesIn(case_names()));

}  // namespace
}  // namespace keel
