// Golden tests of the convolutional layers and of BatchNormalization on 4-D inputs against REAL
// tf.keras 2.12 (tools/golden/cnn_keras.py writes tests/data/cnn/*.json): each layer is created
// from Keras's own get_config() through keel's registry entry, must write that config back,
// declare Keras's variables, and reproduce y, dx and the variable gradients of L = Σ y·dy.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>

#include "keel/layers/layers.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;

nlohmann::json load(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/cnn/" + name);
  EXPECT_TRUE(in) << "missing fixture " << name << "; run tools/golden/cnn_keras.py";
  return nlohmann::json::parse(in);
}

void expect_close(const std::vector<float>& got, const nlohmann::json& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i].get<double>();
    const double err = std::fabs(got[i] - w) / std::max(1.0, std::fabs(w));
    worst = std::max(worst, err);
    ASSERT_LE(err, tol) << what << "[" << i << "] keel " << got[i] << " keras " << w;
  }
}

using Factory = std::function<std::unique_ptr<Layer>(const nlohmann::json&)>;
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> f = {
      {"Conv2D", &Conv2D::from_config},
      {"DepthwiseConv2D", &DepthwiseConv2D::from_config},
      {"MaxPooling2D", &MaxPooling2D::from_config},
      {"AveragePooling2D", &AveragePooling2D::from_config},
      {"GlobalAveragePooling2D", &GlobalAveragePooling2D::from_config},
      {"GlobalMaxPooling2D", &GlobalMaxPooling2D::from_config},
      {"ZeroPadding2D", &ZeroPadding2D::from_config},
      {"Reshape", &Reshape::from_config},
      {"Dense", &Dense::from_config},
      {"BatchNormalization", &BatchNormalization::from_config},
  };
  return f;
}

Shape sample_shape(const nlohmann::json& input_shape) {
  auto dims = input_shape.get<std::vector<int64_t>>();
  return Shape::batched(std::vector<int64_t>(dims.begin() + 1, dims.end()));
}

TEST(CnnGolden, LayersMatchTfKeras) {
  const auto golden = load("layers.json");
  ASSERT_GE(golden["cases"].size(), 30u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    reset_default_names();
    LayerHarness h(factories().at(c["class_name"])(c["config"]), sample_shape(c["input_shape"]));
    EXPECT_EQ(h.layer().get_config(), c["config"]) << "get_config differs from tf.keras";
    const int64_t batch = c["input_shape"][0];
    const auto out_dims = c["output_shape"].get<std::vector<int64_t>>();
    EXPECT_EQ(h.layer().output_shape(),
              Shape::batched(std::vector<int64_t>(out_dims.begin() + 1, out_dims.end())));
    // Variables: Keras's names (in order) and shapes; copy Keras's values in.
    const auto& weights = c["weights"];
    ASSERT_EQ(h.layer().variables().size(), weights.size());
    for (const auto& [short_name, w] : weights.items()) {
      Variable& v = h.var(short_name);
      EXPECT_EQ(v.shape, w["shape"].get<std::vector<int64_t>>()) << short_name;
      const auto values = w["value"].get<std::vector<float>>();
      ASSERT_EQ(static_cast<int64_t>(values.size()), v.size());
      std::copy(values.begin(), values.end(), v.value);
    }
    const auto x = c["x"].get<std::vector<float>>();
    const auto y = h.forward(x, batch, Mode::kTraining);
    expect_close(y, c["y"], 2e-6, "y");
    const auto dx = h.backward(x, y, c["dy"].get<std::vector<float>>(), batch, Write::kSet);
    expect_close(dx, c["dx"], 2e-6, "dx");
    for (const auto& [short_name, g] : c["grads"].items()) {
      expect_close(h.grad(short_name), g, 2e-6, "d" + short_name);
    }
  }
}

// 4-D BatchNormalization: every axis form, Keras's fused moving-variance update (unbiased) where
// tf.keras runs its fused kernel and the non-fused one (biased) elsewhere, the epsilon clamp.
TEST(CnnGolden, BatchNormalization4dMatchesTfKeras) {
  const auto golden = load("bn.json");
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    reset_default_names();
    auto config = c["config"];
    if (name == "axis_m1_not_fused") config["fused"] = false;  // Keras does not write `fused`
    LayerHarness h(BatchNormalization::from_config(config), sample_shape(c["input_shape"]));
    auto& bn = h.as<BatchNormalization>();
    EXPECT_EQ(bn.fused(), c["fused"].get<bool>());
    auto written = h.layer().get_config();
    EXPECT_EQ(written, c["config"]);
    EXPECT_EQ(h.var("gamma").shape, c["param_shape"].get<std::vector<int64_t>>());
    const auto gamma = c["gamma"].get<std::vector<float>>(), beta = c["beta"].get<std::vector<float>>();
    std::copy(gamma.begin(), gamma.end(), h.var("gamma").value);
    std::copy(beta.begin(), beta.end(), h.var("beta").value);
    const int64_t batch = c["input_shape"][0];
    for (const auto& step : c["steps"]) {
      const auto x = step["x"].get<std::vector<float>>();
      const auto y = h.forward(x, batch, Mode::kTraining);
      expect_close(y, step["y"], 1e-5, "y");
      const auto dx = h.backward(x, y, step["dy"].get<std::vector<float>>(), batch, Write::kSet);
      expect_close(dx, step["dx"], 1e-5, "dx");
      expect_close(h.grad("gamma"), step["dgamma"], 1e-5, "dgamma");
      expect_close(h.grad("beta"), step["dbeta"], 1e-5, "dbeta");
      expect_close(h.value("moving_mean"), step["moving_mean"], 1e-6, "moving_mean");
      expect_close(h.value("moving_variance"), step["moving_variance"], 1e-6, "moving_variance");
    }
    const auto& inf = c["inference"];
    expect_close(h.forward(inf["x"].get<std::vector<float>>(), batch, Mode::kInference), inf["y"],
                 1e-5, "inference y");
  }
}

}  // namespace
}  // namespace keel
