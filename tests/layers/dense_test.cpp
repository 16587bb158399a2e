#include "keel/layers/dense.h"

#include <gtest/gtest.h>

#include <cmath>

#include "keel/core/error.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;
using testing::random_vector;

TEST(LayersDense, ShapesVariablesAndDefaults) {
  LayerHarness h(std::make_unique<Dense>(3, DenseOptions{.name = "d"}), Shape{kBatchUnknown, 4});
  EXPECT_EQ(h.layer().output_shape(), (Shape{kBatchUnknown, 3}));
  ASSERT_EQ(h.layer().variables().size(), 2u);
  EXPECT_EQ(h.layer().variables()[0].name, "d/kernel:0");
  EXPECT_EQ(h.layer().variables()[0].shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(h.layer().variables()[1].name, "d/bias:0");
  EXPECT_EQ(h.layer().count_params(), 15);
  EXPECT_EQ(h.value("bias"), std::vector<float>(3, 0.0f));  // zeros
  const float limit = std::sqrt(6.0f / 7.0f);             // glorot_uniform
  for (float w : h.value("kernel")) EXPECT_LE(std::fabs(w), limit);
  EXPECT_FALSE(h.layer().outputs_softmax());
  EXPECT_THROW(Dense(0), Error);
}

TEST(LayersDense, ForwardMatchesHandComputation) {
  LayerHarness h(std::make_unique<Dense>(2, DenseOptions{.activation = "relu"}), Shape{kBatchUnknown, 3});
  const float kernel[] = {1, -1, 2, 0.5f, -3, 1};  // (3, 2)
  std::copy(kernel, kernel + 6, h.var("kernel").value);
  h.var("bias").value[0] = 0.5f;
  h.var("bias").value[1] = 10.0f;
  // row 0 [1,2,3]: [1+4-9+0.5, -1+1+3+10] = [-3.5, 13] -> relu [0, 13]
  // row 1 [0,0,1]: [-3+0.5, 1+10] = [-2.5, 11] -> [0, 11]
  EXPECT_EQ(h.forward({1, 2, 3, 0, 0, 1}, 2, Mode::kInference), (std::vector<float>{0, 13, 0, 11}));
  EXPECT_EQ(h.forward({3, 1, 0}, 1, Mode::kInference), (std::vector<float>{5.5f, 7.5f}));
}

TEST(LayersDense, GradientsForEveryActivation) {
  for (const char* act : {"linear", "relu", "elu", "selu", "leaky_relu", "tanh", "sigmoid",
                          "softmax", "softplus", "gelu", "swish"}) {
    SCOPED_TRACE(act);
    LayerHarness h(std::make_unique<Dense>(4, DenseOptions{.activation = act,
                                                           .bias_initializer = "random_normal"}),
                   Shape{kBatchUnknown, 5});
    auto x = random_vector(3 * 5, 21);
    // Keep relu-family pre-activations away from the kink by at least the FD step.
    auto y = h.forward(x, 3, Mode::kTraining);
    (void)y;
    testing::check_gradients(h, x, 3, 1e-3, 3e-3);
  }
}

TEST(LayersDense, NoBiasAndNdInput) {
  LayerHarness h(std::make_unique<Dense>(2, DenseOptions{.use_bias = false}), Shape{kBatchUnknown, 3, 4});
  EXPECT_EQ(h.layer().output_shape(), (Shape{kBatchUnknown, 3, 2}));
  EXPECT_EQ(h.layer().variables().size(), 1u);
  testing::check_gradients(h, random_vector(2 * 12, 5), 2, 1e-2, 2e-3);
}

TEST(LayersDense, SoftmaxLogitsHooks) {
  LayerHarness h(std::make_unique<Dense>(3, DenseOptions{.activation = "softmax"}), Shape{kBatchUnknown, 2});
  ASSERT_TRUE(h.layer().outputs_softmax());
  const std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.25f};
  const auto y = h.forward(x, 2, Mode::kTraining);
  const float* logits = h.layer().logits();
  ASSERT_NE(logits, nullptr);
  for (int r = 0; r < 2; ++r) {
    double sum = 0;
    for (int j = 0; j < 3; ++j) sum += std::exp(double(logits[r * 3 + j]));
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(y[r * 3 + j], std::exp(double(logits[r * 3 + j])) / sum, 1e-6);
  }
  // backward_from_logits with dlogits = softmax-backward(dy) equals backward(dy).
  const std::vector<float> dy = {0.1f, -0.4f, 0.3f, 1.0f, 0.0f, -2.0f};
  h.zero_grads();
  const auto dx = h.backward(x, y, dy, 2);
  const auto dkernel = h.grad("kernel");
  std::vector<float> dlogits(6);
  for (int r = 0; r < 2; ++r) {
    double dot = 0;
    for (int j = 0; j < 3; ++j) dot += dy[r * 3 + j] * y[r * 3 + j];
    for (int j = 0; j < 3; ++j) dlogits[r * 3 + j] = float(y[r * 3 + j] * (dy[r * 3 + j] - dot));
  }
  h.zero_grads();
  const auto dx2 = h.backward(x, y, dlogits, 2, Write::kAdd, /*dy_wrt_logits=*/true);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(dx2[i], dx[i], 1e-6);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(h.grad("kernel")[i], dkernel[i], 1e-6);
}

TEST(LayersDense, FrozenLayerStillPropagatesDx) {
  LayerHarness h(std::make_unique<Dense>(2, DenseOptions{.trainable = false}), Shape{kBatchUnknown, 3});
  EXPECT_EQ(h.var("kernel").grad, nullptr);
  const std::vector<float> x = {1, 2, 3};
  const auto y = h.forward(x, 1, Mode::kTraining);
  const auto dx = h.backward(x, y, {1, 0}, 1);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(dx[i], h.var("kernel").value[i * 2]);
}

TEST(LayersDense, ConfigMatchesTfKeras) {
  reset_default_names();
  Dense d(300, {.activation = "elu", .kernel_initializer = "he_normal", .input_shape = {784}});
  d.ensure_name();  // default names are taken lazily (layer.h)
  const auto expected = nlohmann::json::parse(R"({
    "name": "dense", "trainable": true, "batch_input_shape": [null, 784], "dtype": "float32",
    "units": 300, "activation": "elu", "use_bias": true,
    "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": null}},
    "bias_initializer": {"class_name": "Zeros", "config": {}},
    "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
    "kernel_constraint": null, "bias_constraint": null})");
  EXPECT_EQ(d.get_config(), expected);
  const auto back = Dense::from_config(expected);
  EXPECT_EQ(back->get_config(), expected);
  Dense second(10);
  second.ensure_name();
  EXPECT_EQ(second.get_config()["name"], "dense_1");
}

TEST(LayersDense, FromConfigAcceptsTfjsAndRejectsUnknowns) {
  // TF.js modelTopology (snake_case keys, no dtype, initializer VarianceScaling "normal").
  const auto tfjs = nlohmann::json::parse(R"({"units": 64, "activation": "relu", "use_bias": true,
    "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1, "mode": "fan_avg", "distribution": "normal", "seed": null}},
    "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null,
    "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null,
    "bias_constraint": null, "name": "hidden", "trainable": true})");
  const auto layer = Dense::from_config(tfjs);
  EXPECT_EQ(layer->name(), "hidden");
  EXPECT_EQ(layer->get_config()["units"], 64);

  auto message = [](const char* text) {
    try {
      Dense::from_config(nlohmann::json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no throw");
  };
  const std::string unknown = message(R"({"units": 3, "kernel_init": "zeros"})");
  EXPECT_NE(unknown.find("Dense"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("'kernel_init'"), std::string::npos) << unknown;
  const std::string reg = message(
      R"({"units": 3, "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}})");
  EXPECT_NE(reg.find("kernel_regularizer"), std::string::npos) << reg;
  EXPECT_NE(reg.find("not supported"), std::string::npos) << reg;
  EXPECT_NE(message(R"({"units": 3, "dtype": "float16"})").find("float16"), std::string::npos);
  EXPECT_NE(message(R"({"activation": "relu"})").find("units"), std::string::npos);
  EXPECT_NE(message(R"({"units": 3, "activation": "relux"})").find("relux"), std::string::npos);
}

}  // namespace
}  // namespace keel
