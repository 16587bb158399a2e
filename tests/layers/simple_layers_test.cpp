// Flatten, Activation and Dropout.
#include <gtest/gtest.h>

#include <cmath>

#include "keel/core/error.h"
#include "keel/layers/layers.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;
using testing::random_vector;

TEST(LayersFlatten, ShapeConfigAndGradients) {
  reset_default_names();
  Flatten f({.input_shape = {28, 28}});
  f.ensure_name();  // default names are taken lazily (layer.h)
  EXPECT_EQ(f.compute_output_shape(Shape::batched({28, 28})), (Shape{kBatchUnknown, 784}));
  EXPECT_EQ(f.get_config(), nlohmann::json::parse(R"({"name": "flatten", "trainable": true,
      "batch_input_shape": [null, 28, 28], "dtype": "float32", "data_format": "channels_last"})"));
  EXPECT_EQ(Flatten::from_config(f.get_config())->get_config(), f.get_config());
  EXPECT_THROW(Flatten({.data_format = "channels_first"}), Error);
  LayerHarness h(std::make_unique<Flatten>(), Shape{kBatchUnknown, 2, 3});
  const auto x = random_vector(12, 1);
  EXPECT_EQ(h.forward(x, 2, Mode::kTraining), x);
  testing::check_gradients(h, x, 2);
}

TEST(LayersFlatten, RejectsUnknownArgument) {
  try {
    Flatten::from_config(nlohmann::json::parse(R"({"name": "f", "dat_format": "channels_last"})"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Flatten"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'dat_format'"), std::string::npos);
  }
}

TEST(LayersActivation, GradientsForEveryActivation) {
  for (const char* act : {"linear", "relu", "elu", "selu", "leaky_relu", "tanh", "sigmoid",
                          "softmax", "softplus", "gelu", "swish"}) {
    SCOPED_TRACE(act);
    LayerHarness h(std::make_unique<Activation>(act), Shape{kBatchUnknown, 2, 3});
    // Inputs at least 0.05 away from 0 (the kink), FD step 1e-3.
    auto x = random_vector(3 * 6, 8);
    for (auto& v : x) v = v >= 0 ? v + 0.05f : v - 0.05f;
    testing::check_gradients(h, x, 3, 1e-3, 3e-3);
  }
}

TEST(LayersActivation, SoftmaxOverLastAxisWithLogits) {
  LayerHarness h(std::make_unique<Activation>("softmax"), Shape{kBatchUnknown, 2, 2});
  const std::vector<float> x = {0, 0, 1, 3, -1, 1, 5, 5};
  const auto y = h.forward(x, 2, Mode::kInference);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_NEAR(y[3], 1 / (1 + std::exp(-2.0)), 1e-6);
  EXPECT_FLOAT_EQ(y[6], 0.5f);
  ASSERT_TRUE(h.layer().outputs_softmax());
  EXPECT_EQ(std::vector<float>(h.layer().logits(), h.layer().logits() + 8), x);
  const auto dx = h.backward(x, y, y, 2, Write::kAdd, /*dy_wrt_logits=*/true);
  EXPECT_EQ(dx, y);  // identity on the logits gradient
}

TEST(LayersActivation, Config) {
  reset_default_names();
  Activation a("elu");
  a.ensure_name();
  const auto expected = nlohmann::json::parse(
      R"({"name": "activation", "trainable": true, "dtype": "float32", "activation": "elu"})");
  EXPECT_EQ(a.get_config(), expected);
  EXPECT_EQ(Activation::from_config(expected)->get_config(), expected);
  EXPECT_THROW(Activation::from_config(nlohmann::json::parse(R"({"activation": "elu", "alpha": 1})")), Error);
  EXPECT_THROW(Activation::from_config(nlohmann::json::parse(R"({"name": "a"})")), Error);
}

TEST(LayersDropout, InferenceIsIdentityTrainingIsInvertedDropout) {
  LayerHarness h(std::make_unique<Dropout>(0.25, DropoutOptions{.seed = 3}), Shape{kBatchUnknown, 1000});
  const std::vector<float> x(4000, 2.0f);
  EXPECT_EQ(h.forward(x, 4, Mode::kInference), x);
  const auto y = h.forward(x, 4, Mode::kTraining);
  int64_t kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || v == 2.0f / 0.75f) << v;
    kept += v != 0.0f;
  }
  EXPECT_NEAR(double(kept) / 4000, 0.75, 0.03);
  // Backward uses the same mask and scale.
  const auto dx = h.backward(x, y, std::vector<float>(4000, 1.0f), 4);
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_EQ(dx[i], y[i] / 2.0f);
}

TEST(LayersDropout, SeedsAndRateZero) {
  const std::vector<float> x(100, 1.0f);
  LayerHarness a(std::make_unique<Dropout>(0.5, DropoutOptions{.seed = 11}), Shape{kBatchUnknown, 100});
  LayerHarness b(std::make_unique<Dropout>(0.5, DropoutOptions{.seed = 11}), Shape{kBatchUnknown, 100});
  EXPECT_EQ(a.forward(x, 1, Mode::kTraining), b.forward(x, 1, Mode::kTraining));
  // Without a seed, two layers draw different masks (different construction-order streams).
  LayerHarness c(std::make_unique<Dropout>(0.5), Shape{kBatchUnknown, 100});
  LayerHarness d(std::make_unique<Dropout>(0.5), Shape{kBatchUnknown, 100});
  EXPECT_NE(c.forward(x, 1, Mode::kTraining), d.forward(x, 1, Mode::kTraining));
  LayerHarness z(std::make_unique<Dropout>(0.0), Shape{kBatchUnknown, 100});
  EXPECT_EQ(z.forward(x, 1, Mode::kTraining), x);
  EXPECT_THROW(Dropout(1.0), Error);
  EXPECT_THROW(Dropout(-0.1), Error);
}

TEST(LayersDropout, Gradients) {
  LayerHarness h(std::make_unique<Dropout>(0.4, DropoutOptions{.seed = 2}), Shape{kBatchUnknown, 7});
  testing::check_gradients(h, random_vector(21, 4), 3);
}

TEST(LayersDropout, Config) {
  reset_default_names();
  Dropout d(0.2);
  d.ensure_name();
  const auto expected = nlohmann::json::parse(R"({"name": "dropout", "trainable": true,
      "dtype": "float32", "rate": 0.2, "noise_shape": null, "seed": null})");
  EXPECT_EQ(d.get_config(), expected);
  EXPECT_EQ(Dropout::from_config(expected)->get_config(), expected);
  EXPECT_EQ(Dropout(0.5, {.seed = 4}).get_config()["seed"], 4);
  EXPECT_THROW(Dropout::from_config(nlohmann::json::parse(R"({"rate": 0.2, "noise_shape": [1, 5]})")), Error);
  EXPECT_THROW(Dropout::from_config(nlohmann::json::parse(R"({"rate": 1.5})")), Error);
}

}  // namespace
}  // namespace keel
