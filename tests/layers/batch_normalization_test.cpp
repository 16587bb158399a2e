#include "keel/layers/batch_normalization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;
using testing::random_vector;

std::unique_ptr<Layer> bn(BatchNormalizationOptions options = {}) {
  return std::make_unique<BatchNormalization>(std::move(options));
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no throw";
}

void expect_near_all(const std::vector<float>& got, const nlohmann::json& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i].get<double>();
    ASSERT_NEAR(got[i], w, tol * std::max(1.0, std::fabs(w))) << what << "[" << i << "]";
  }
}

TEST(LayersBatchNormalization, VariablesInKerasOrder) {
  LayerHarness h(bn({.name = "bn"}), Shape{kBatchUnknown, 5});
  const auto& v = h.layer().variables();
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].name, "bn/gamma:0");
  EXPECT_EQ(v[1].name, "bn/beta:0");
  EXPECT_EQ(v[2].name, "bn/moving_mean:0");
  EXPECT_EQ(v[3].name, "bn/moving_variance:0");
  EXPECT_TRUE(v[0].trainable && v[1].trainable);
  EXPECT_FALSE(v[2].trainable || v[3].trainable);
  EXPECT_EQ(h.value("gamma"), std::vector<float>(5, 1.0f));
  EXPECT_EQ(h.value("moving_variance"), std::vector<float>(5, 1.0f));
  EXPECT_EQ(h.layer().count_params(), 20);
  LayerHarness no_affine(bn({.center = false, .scale = false}), Shape{kBatchUnknown, 5});
  EXPECT_EQ(no_affine.layer().variables().size(), 2u);
}

// Golden values from PyTorch with Keras conventions (tools/golden/layers_bn.py).
TEST(LayersBatchNormalization, MatchesPyTorchGolden) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/layers_bn/bn_golden.json");
  ASSERT_TRUE(in) << "missing fixture; run tools/golden/layers_bn.py";
  const auto golden = nlohmann::json::parse(in);
  // An empty or truncated fixture must not pass: 4 cases of 3, 2, 2 and 2 training steps.
  ASSERT_GE(golden["cases"].size(), 4u) << "bn_golden.json lost cases; rerun tools/golden/layers_bn.py";
  size_t steps_checked = 0;
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    // Looser only for outputs of the mean-1e4 case (see tools/golden/layers_bn.py); statistics are
    // always compared tightly.
    const double vt = c.value("value_tolerance", 0.0);
    const auto tol = [vt](double t) { return std::max(t, vt); };
    const auto shape = c["shape"].get<std::vector<int64_t>>();
    std::vector<int64_t> sample(shape.begin() + 1, shape.end());
    const int64_t batch = shape[0];
    LayerHarness h(bn({.axis = 1, .momentum = c["momentum"].get<double>(),
                       .epsilon = c["epsilon"].get<double>()}),
                   Shape::batched(sample));
    const auto gamma = c["gamma"].get<std::vector<float>>();
    const auto beta = c["beta"].get<std::vector<float>>();
    std::copy(gamma.begin(), gamma.end(), h.var("gamma").value);
    std::copy(beta.begin(), beta.end(), h.var("beta").value);
    for (const auto& step : c["steps"]) {
      const auto x = step["x"].get<std::vector<float>>();
      h.zero_grads();
      const auto y = h.forward(x, batch, Mode::kTraining);
      expect_near_all(y, step["y"], tol(2e-5), "y");
      const auto dx = h.backward(x, y, step["dy"].get<std::vector<float>>(), batch);
      expect_near_all(dx, step["dx"], tol(1e-4), "dx");
      expect_near_all(h.grad("gamma"), step["dgamma"], tol(1e-4), "dgamma");
      expect_near_all(h.grad("beta"), step["dbeta"], tol(1e-5), "dbeta");
      expect_near_all(h.value("moving_mean"), step["moving_mean"], 1e-6, "moving_mean");
      expect_near_all(h.value("moving_variance"), step["moving_variance"], 1e-6, "moving_variance");
      ++steps_checked;
    }
    const auto mm = h.value("moving_mean"), mv = h.value("moving_variance");
    const auto y = h.forward(c["inference"]["x"].get<std::vector<float>>(), batch, Mode::kInference);
    expect_near_all(y, c["inference"]["y"], tol(2e-5), "inference y");
    EXPECT_EQ(h.value("moving_mean"), mm);  // inference changes no state
    EXPECT_EQ(h.value("moving_variance"), mv);

    // Frozen (trainable=False): inference mode even for a training forward; dx through fixed stats.
    h.layer().set_trainable(false);
    const auto& frozen = c["frozen"];
    const auto fx = frozen["x"].get<std::vector<float>>();
    const auto fy = h.forward(fx, batch, Mode::kTraining);
    expect_near_all(fy, frozen["y"], tol(2e-5), "frozen y");
    const auto fdx = h.backward(fx, fy, frozen["dy"].get<std::vector<float>>(), batch);
    expect_near_all(fdx, frozen["dx"], tol(2e-5), "frozen dx");
    EXPECT_EQ(h.value("moving_mean"), mm);
    EXPECT_EQ(h.value("moving_variance"), mv);
  }
  EXPECT_GE(steps_checked, 9u);
}

TEST(LayersBatchNormalization, GradientsTwoDimensional) {
  LayerHarness h(bn({.momentum = 0.9}), Shape{kBatchUnknown, 3});
  for (int i = 0; i < 3; ++i) {
    h.var("gamma").value[i] = 0.5f + 0.4f * i;
    h.var("beta").value[i] = -0.3f + 0.2f * i;
  }
  testing::check_gradients(h, random_vector(5 * 3, 31, -2.0, 2.0), 5, 1e-2, 3e-3);
}

TEST(LayersBatchNormalization, GradientsWithoutAffineAndNd) {
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE(variant);
    BatchNormalizationOptions o{.axis = variant < 2 ? 1 : -1, .center = variant % 2 == 0,
                                .scale = variant == 1 || variant == 2};
    LayerHarness h(bn(o), Shape{kBatchUnknown, 3, 2});
    testing::check_gradients(h, random_vector(4 * 6, 40 + variant, -2.0, 2.0), 4, 1e-2, 3e-3);
  }
}

TEST(LayersBatchNormalization, NdAxisStatistics) {
  // (None, 2, 3) with axis=1: channel c's statistics over batch and the last axis.
  LayerHarness h(bn({.axis = -2, .momentum = 0.0}), Shape{kBatchUnknown, 2, 3});
  EXPECT_EQ(h.as<BatchNormalization>().axis(), 1);
  const std::vector<float> x = {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60};
  h.forward(x, 2, Mode::kTraining);
  // momentum 0: the moving statistics become the batch statistics.
  EXPECT_FLOAT_EQ(h.value("moving_mean")[0], 3.5f);
  EXPECT_FLOAT_EQ(h.value("moving_mean")[1], 35.0f);
  EXPECT_FLOAT_EQ(h.value("moving_variance")[0], 17.5f / 6);  // biased var of 1..6
  EXPECT_FLOAT_EQ(h.value("moving_variance")[1], 1750.0f / 6);
}

TEST(LayersBatchNormalization, LargeMeanIsNumericallySafe) {
  LayerHarness h(bn(), Shape{kBatchUnknown, 2});
  std::vector<float> x;
  for (int i = 0; i < 64; ++i) {
    x.push_back(1e4f + float(i % 8) * 0.25f);
    x.push_back(-1e4f + float(i % 4) - 1.5f);
  }
  const auto y = h.forward(x, 64, Mode::kTraining);
  // Exact: feature 0 = 1e4 + {0..7}/4, biased var = 0.328125, mean 1e4 + 0.875.
  // Feature 1 = -1e4 + {-1.5,-0.5,0.5,1.5}, var = 1.25, mean -1e4.
  EXPECT_NEAR(h.value("moving_mean")[0], 0.01 * (1e4 + 0.875), 1e-3);
  EXPECT_NEAR(h.value("moving_variance")[0], 0.99 + 0.01 * 0.328125, 1e-6);
  EXPECT_NEAR(h.value("moving_variance")[1], 0.99 + 0.01 * 1.25, 1e-6);
  for (int i = 0; i < 64; ++i) {
    EXPECT_NEAR(y[2 * i], (float(i % 8) * 0.25 - 0.875) / std::sqrt(0.328125 + 1e-3), 2e-3);
    EXPECT_NEAR(y[2 * i + 1], (float(i % 4) - 1.5) / std::sqrt(1.25 + 1e-3), 2e-3);
  }
}

TEST(LayersBatchNormalization, FrozenLayerRunsInInferenceMode) {
  LayerHarness h(bn({.trainable = false}), Shape{kBatchUnknown, 2});
  EXPECT_FALSE(h.var("gamma").trainable);
  EXPECT_EQ(h.var("gamma").grad, nullptr);
  h.var("moving_mean").value[0] = 1.0f;
  h.var("moving_variance").value[1] = 4.0f;
  const std::vector<float> x = {3, 5, -1, 1};
  const auto y = h.forward(x, 2, Mode::kTraining);
  EXPECT_EQ(h.value("moving_mean"), (std::vector<float>{1, 0}));  // unchanged
  EXPECT_EQ(h.value("moving_variance"), (std::vector<float>{1, 4}));
  const float r0 = 1 / std::sqrt(1.001f), r1 = 1 / std::sqrt(4.001f);
  EXPECT_FLOAT_EQ(y[0], 3 * r0 - r0);
  EXPECT_FLOAT_EQ(y[1], 5 * r1);
  EXPECT_FLOAT_EQ(y[2], -2 * r0);
  // Backward through a frozen BN: dx = dy·γ·r.
  const auto dx = h.backward(x, y, {1, 1, 2, 2}, 2);
  EXPECT_FLOAT_EQ(dx[0], r0);
  EXPECT_FLOAT_EQ(dx[3], 2 * r1);
}

TEST(LayersBatchNormalization, InferenceModeGradientsOfTrainableLayer) {
  // A trainable layer run in inference mode (e.g. a gradient taken at training=False) still
  // back-propagates correctly; FD on the inference forward.
  LayerHarness h(bn(), Shape{kBatchUnknown, 2});
  h.var("moving_mean").value[0] = 0.5f;
  h.var("moving_variance").value[1] = 2.0f;
  h.var("gamma").value[1] = 1.5f;
  const std::vector<float> x = {0.3f, -0.2f, 1.1f, 0.7f};
  const auto y = h.forward(x, 2, Mode::kInference);
  const auto dx = h.backward(x, y, {1.0f, -2.0f, 0.5f, 1.0f}, 2);
  EXPECT_FLOAT_EQ(dx[0], 1 / std::sqrt(1.001f));
  EXPECT_FLOAT_EQ(dx[1], -2 * 1.5f / std::sqrt(2.001f));
  EXPECT_FLOAT_EQ(h.grad("beta")[0], 1.5f);
  EXPECT_NEAR(h.grad("gamma")[0], ((0.3 - 0.5) + 0.5 * (1.1 - 0.5)) / std::sqrt(1.001), 1e-6);
}

TEST(LayersBatchNormalization, BatchOfOneGivesBeta) {
  LayerHarness h(bn(), Shape{kBatchUnknown, 3});
  h.var("beta").value[2] = 0.75f;
  const auto y = h.forward({5, -7, 9}, 1, Mode::kTraining);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0.75f}));
  EXPECT_FLOAT_EQ(h.value("moving_variance")[0], 1.0f - 1.0f * float(1.0 - 0.99));
  EXPECT_FLOAT_EQ(h.value("moving_mean")[1], -7.0f * float(1.0 - 0.99));
  const auto dx = h.backward({5, -7, 9}, y, {1, 2, 3}, 1);
  for (float v : dx) EXPECT_EQ(v, 0.0f);  // the output does not depend on x
}

TEST(LayersBatchNormalization, Validation) {
  EXPECT_NE(error_of([] { BatchNormalization({.axis = 0, .name = "bad_bn"}); }).find("bad_bn"),
            std::string::npos);
  EXPECT_NE(error_of([] { BatchNormalization({.momentum = 1.5}); }).find("momentum"), std::string::npos);
  EXPECT_NE(error_of([] { BatchNormalization({.epsilon = 0}); }).find("epsilon"), std::string::npos);
  const std::string axis = error_of([] {
    BatchNormalization b({.axis = 2, .name = "bn_axis"});
    b.build(Shape{kBatchUnknown, 4});
  });
  EXPECT_NE(axis.find("bn_axis"), std::string::npos) << axis;
  EXPECT_NE(axis.find("axis 2"), std::string::npos) << axis;
  EXPECT_NE(error_of([] {
              BatchNormalization b({.axis = -3});
              b.build(Shape{kBatchUnknown, 4, 5});
            }).find("axis -3"),
            std::string::npos);
}

TEST(LayersBatchNormalization, ConfigMatchesTfKeras) {
  reset_default_names();
  BatchNormalization b({.momentum = 0.9});
  b.ensure_name();  // default names are taken lazily (layer.h)
  auto expected = nlohmann::json::parse(R"({"name": "batch_normalization", "trainable": true,
    "dtype": "float32", "axis": -1, "momentum": 0.9, "epsilon": 0.001, "center": true,
    "scale": true, "beta_initializer": {"class_name": "Zeros", "config": {}},
    "gamma_initializer": {"class_name": "Ones", "config": {}},
    "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
    "moving_variance_initializer": {"class_name": "Ones", "config": {}},
    "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null,
    "gamma_constraint": null})");
  EXPECT_EQ(b.get_config(), expected);
  b.build(Shape{kBatchUnknown, 784});
  expected["axis"] = nlohmann::json::array({1});  // tf.keras 2.x writes the built axis as a list
  EXPECT_EQ(b.get_config(), expected);
  auto back = BatchNormalization::from_config(expected);
  back->build(Shape{kBatchUnknown, 784});
  EXPECT_EQ(back->get_config(), expected);
}

TEST(LayersBatchNormalization, FromConfigTfjsAndErrors) {
  const auto tfjs = nlohmann::json::parse(R"({"axis": -1, "momentum": 0.99, "epsilon": 0.001,
    "center": true, "scale": true, "beta_initializer": {"class_name": "Zeros", "config": {}},
    "gamma_initializer": {"class_name": "Ones", "config": {}},
    "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
    "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": null,
    "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null,
    "name": "batch_normalization_BatchNormalization1", "trainable": false})");
  const auto layer = BatchNormalization::from_config(tfjs);
  EXPECT_FALSE(layer->trainable());
  EXPECT_EQ(layer->name(), "batch_normalization_BatchNormalization1");
  const std::string unknown = error_of([] {
    BatchNormalization::from_config(nlohmann::json::parse(R"({"momentun": 0.9})"));
  });
  EXPECT_NE(unknown.find("BatchNormalization"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("'momentun'"), std::string::npos) << unknown;
  EXPECT_NE(error_of([] {
              BatchNormalization::from_config(nlohmann::json::parse(
                  R"({"gamma_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}})"));
            }).find("gamma_regularizer"),
            std::string::npos);
  // Axis lists are Keras's (issue 13); their entries must be integers.
  EXPECT_EQ(error_of([] {
              BatchNormalization::from_config(nlohmann::json::parse(R"({"axis": [1, 2]})"));
            }),
            "no throw");
  EXPECT_NE(error_of([] {
              BatchNormalization::from_config(nlohmann::json::parse(R"({"axis": [1, "2"]})"));
            }).find("axis"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              BatchNormalization::from_config(nlohmann::json::parse(R"({"renorm": true})"));
            }).find("renorm"),
            std::string::npos);
}

// synchronized=True (Keras 3) and tf.keras 2.x's SyncBatchNormalization class load as the
// synchronized layer; the flag is written only when set (tf.keras 2.x's default config has none).
TEST(LayersBatchNormalization, SynchronizedConfigs) {
  auto plain = BatchNormalization::from_config(nlohmann::json::parse(R"({"name": "bn"})"));
  EXPECT_FALSE(static_cast<BatchNormalization&>(*plain).synchronized());
  EXPECT_FALSE(plain->get_config().contains("synchronized"));
  auto flagged = BatchNormalization::from_config(nlohmann::json::parse(R"({"synchronized": true})"));
  EXPECT_TRUE(static_cast<BatchNormalization&>(*flagged).synchronized());
  EXPECT_EQ(flagged->get_config().at("synchronized"), true);
  EXPECT_EQ(flagged->class_name(), "BatchNormalization");

  // tf.keras 2.12's Sequential([Input((4,)), SyncBatchNormalization()]).to_json(), trimmed.
  const std::string json = R"({"class_name": "Sequential", "config": {"name": "sequential", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32",
       "sparse": false, "ragged": false, "name": "input_1"}},
      {"class_name": "SyncBatchNormalization", "config": {"name": "sync_batch_normalization",
       "trainable": true, "dtype": "float32", "axis": [1], "momentum": 0.99, "epsilon": 0.001,
       "center": true, "scale": true}}]}})";
  Model m = model_from_json(json, "sync.json");
  const Layer& last = m.layer(m.num_layers() - 1);
  ASSERT_EQ(last.class_name(), "BatchNormalization");
  const auto& bn = dynamic_cast<const BatchNormalization&>(last);
  EXPECT_TRUE(bn.synchronized());
  EXPECT_TRUE(bn.synchronizes_ranks());
  EXPECT_EQ(bn.name(), "sync_batch_normalization");
  EXPECT_EQ(model_to_config(m)["config"]["layers"].back()["config"]["synchronized"], true);
}

}  // namespace
}  // namespace keel
