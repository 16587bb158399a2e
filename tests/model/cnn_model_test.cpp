// The seed-cnn built-in model (issue 13): summary and config as tf.keras 2.12 writes them
// (tests/data/cnn from tools/golden/cnn_keras.py), config round trip, and a short training run.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/io/model_config.h"
#include "keel/io/saved_model.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"
#include "temp_dir.h"

namespace keel {
namespace {

std::string read_text(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/cnn/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << name << "; run tools/golden/cnn_keras.py";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SeedCnn, SummaryIsTfKerasByteForByte) {
  reset_default_names();
  Model model = builtin_model("seed-cnn");
  EXPECT_EQ(model.summary(), read_text("seed_cnn.summary.txt"));
}

TEST(SeedCnn, ConfigIsTfKeras) {
  reset_default_names();
  Model model = builtin_model("seed-cnn");
  auto ours = nlohmann::json::parse(model_to_json(model));
  auto keras = nlohmann::json::parse(read_text("seed_cnn.json"));
  // The version stamp is keel's own choice of Keras release to claim.
  ours.erase("keras_version");
  keras.erase("keras_version");
  EXPECT_EQ(ours, keras);
  reset_default_names();
  Model back = model_from_config(keras, "seed_cnn.json");
  EXPECT_EQ(back.summary(), read_text("seed_cnn.summary.txt"));
}

TEST(SeedCnn, TrainingStepsLowerTheLossAndAreDeterministic) {
  auto run = [] {
    reset_default_names();
    Model model = builtin_model("seed-cnn", {.seed = 3});
    // An unseeded Dropout draws the n-th stream of the process (dropout.h): pin it.
    for (const auto& layer : model.layers())
      if (auto* dropout = dynamic_cast<Dropout*>(layer.get())) dropout->set_seed(5);
    model.compile({.loss = "sparse_categorical_crossentropy"});
    const int64_t n = 16;
    Rng rng(4);
    Tensor x({n, 28, 28}), y({n, 1});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(rng.uniform_int(10));
    std::vector<double> losses;
    for (int i = 0; i < 5; ++i) losses.push_back(*model.train_on_batch(x, y).get("loss"));
    return losses;
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a, b);
  EXPECT_LT(a.back(), a.front());
}

// Saved in the TF.js Layers format and loaded back: the same summary and bit-identical predictions
// (conv kernels, 4-D BN statistics after a training step included).
TEST(SeedCnn, TfjsRoundTrip) {
  reset_default_names();
  Model model = builtin_model("seed-cnn", {.seed = 8});
  model.compile({.loss = "sparse_categorical_crossentropy"});
  const int64_t n = 4;
  Rng rng(6);
  Tensor x({n, 28, 28}), y({n, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(rng.uniform_int(10));
  model.train_on_batch(x, y);
  testing::TempDir dir("seed_cnn_tfjs");
  save_model(model, dir.path / "model");
  reset_default_names();
  Model back = load_model(dir.path / "model");
  EXPECT_EQ(back.summary(), model.summary());
  const Tensor a = model.predict(x), b = back.predict(x);
  ASSERT_EQ(a.size(), b.size());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;
}

// 20 SGD steps (momentum 0.9, clipnorm 1.0) of a small CNN with fused 4-D BN, 2-D BN, max pooling
// and a strided 'same' conv on an even size, against tf.keras 2.12's train_on_batch: the loss
// and every variable (moving statistics included) after every step, within 1e-5.
TEST(CnnTrainingGolden, TwentyStepsMatchTfKeras) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/cnn/training_20steps.json");
  ASSERT_TRUE(in.good()) << "run tools/golden/cnn_keras.py";
  const auto golden = nlohmann::json::parse(in);
  reset_default_names();
  Sequential model(Reshape({8, 8, 1}, {.input_shape = {8, 8}}),
                   Conv2D(4, 3, {.padding = "same", .use_bias = false}), BatchNormalization(),
                   Activation("elu"), MaxPooling2D(),
                   Conv2D(6, 3, {.strides = 2, .padding = "same"}),
                   BatchNormalization({.momentum = 0.9}), Activation("elu"), Flatten(),
                   Dense(8, {.use_bias = false}), BatchNormalization(), Activation("elu"),
                   Dense(5, {.activation = "softmax"}));
  model.build();
  auto variables = model.variables();
  ASSERT_EQ(variables.size(), golden["initial"].size());
  for (Variable* v : variables) {
    ASSERT_TRUE(golden["initial"].contains(v->name)) << v->name;
    const auto values = golden["initial"][v->name].get<std::vector<float>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), v->size()) << v->name;
    std::copy(values.begin(), values.end(), v->value);
  }
  model.compile({.optimizer = std::make_shared<SGD>(
                     SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .clipnorm = 1.0}),
                 .loss = "sparse_categorical_crossentropy"});
  const int64_t batch = golden["batch"];
  Tensor x({batch, 8, 8}), y({batch, 1});
  double worst = 0.0;
  int step_index = 0;
  for (const auto& step : golden["steps"]) {
    SCOPED_TRACE("step " + std::to_string(step_index++));
    const auto xs = step["x"].get<std::vector<float>>(), ys = step["y"].get<std::vector<float>>();
    std::copy(xs.begin(), xs.end(), x.data());
    std::copy(ys.begin(), ys.end(), y.data());
    const double loss = *model.train_on_batch(x, y).get("loss");
    EXPECT_NEAR(loss, step["loss"].get<double>(), 1e-5);
    for (Variable* v : variables) {
      const auto& want = step["weights"][v->name];
      for (int64_t i = 0; i < v->size(); ++i) {
        const double w = want[size_t(i)].get<double>();
        const double err = std::fabs(v->value[i] - w) / std::max(1.0, std::fabs(w));
        worst = std::max(worst, err);
        ASSERT_LE(err, 1e-5) << v->name << "[" << i << "] keel " << v->value[i] << " keras " << w;
      }
    }
  }
  const Tensor probs = model.predict(x);
  const auto want = golden["predict"];
  for (int64_t i = 0; i < probs.size(); ++i) {
    EXPECT_NEAR(probs[i], want[size_t(i)].get<double>(), 1e-5) << "predict[" << i << "]";
  }
  RecordProperty("worst_relative_weight_error", std::to_string(worst));
}

}  // namespace
}  // namespace keel
