// FixupBias and FixupScale: forward values, finite-difference gradients (input and the scalar, both
// Write modes), configs and the keel-only config registry entries.
#include <gtest/gtest.h>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/layers/layers.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;
using testing::random_vector;

TEST(LayersFixup, BiasAddsOneScalarToEveryElement) {
  LayerHarness h(std::make_unique<FixupBias>(), Shape{kBatchUnknown, 2, 3});
  ASSERT_EQ(h.layer().variables().size(), 1u);
  EXPECT_EQ(h.var("bias").shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(h.value("bias"), (std::vector<float>{0.0f})) << "Fixup's scalar biases start at 0";
  h.var("bias").value[0] = -0.25f;
  const auto x = random_vector(12, 3);
  const auto y = h.forward(x, 2, Mode::kInference);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y[i], x[i] - 0.25f);
  testing::check_gradients(h, x, 2);
  // dL/dbias = Σ dy: with dy = 1 everywhere it is the element count of the batch.
  h.zero_grads();
  h.backward(x, y, std::vector<float>(12, 1.0f), 2, Write::kSet);
  EXPECT_FLOAT_EQ(h.grad("bias")[0], 12.0f);
}

TEST(LayersFixup, ScaleMultipliesEveryElement) {
  LayerHarness h(std::make_unique<FixupScale>(), Shape{kBatchUnknown, 5});
  EXPECT_EQ(h.var("scale").shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(h.value("scale"), (std::vector<float>{1.0f})) << "Fixup's multiplier starts at 1";
  h.var("scale").value[0] = 1.75f;
  const auto x = random_vector(15, 4);
  const auto y = h.forward(x, 3, Mode::kTraining);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y[i], 1.75f * x[i]);
  testing::check_gradients(h, x, 3);
  // A zero multiplier still gets a gradient (Σ x·dy) and passes none to x.
  h.var("scale").value[0] = 0.0f;
  testing::check_gradients(h, x, 3);
}

TEST(LayersFixup, FrozenScalarKeepsItsGradientUntouched) {
  auto layer = std::make_unique<FixupBias>(FixupScalarOptions{.trainable = false});
  LayerHarness h(std::move(layer), Shape{kBatchUnknown, 4});
  EXPECT_FALSE(h.var("bias").trainable);
  EXPECT_EQ(h.var("bias").grad, nullptr);
  const auto x = random_vector(8, 5);
  const auto dx = h.backward(x, h.forward(x, 2, Mode::kTraining), random_vector(8, 6), 2);
  EXPECT_EQ(dx, random_vector(8, 6)) << "y = x + b passes dy through";
}

TEST(LayersFixup, ConfigsRoundTripAndLoadInKeelOnly) {
  reset_default_names();
  FixupBias bias({.input_shape = {4}});
  FixupScale scale;
  bias.ensure_name();
  scale.ensure_name();
  EXPECT_EQ(bias.get_config(), nlohmann::json::parse(R"({"name": "fixup_bias", "trainable": true,
      "batch_input_shape": [null, 4], "dtype": "float32"})"));
  EXPECT_EQ(FixupBias::from_config(bias.get_config())->get_config(), bias.get_config());
  EXPECT_EQ(FixupScale::from_config(scale.get_config())->class_name(), "FixupScale");
  EXPECT_THROW(FixupScale::from_config(nlohmann::json::parse(R"({"name": "s", "value": 2})")),
               Error);
  // Through the config registry: a Sequential config with both layers.
  Model m = model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "in"}},
      {"class_name": "FixupBias", "config": {"name": "b"}},
      {"class_name": "FixupScale", "config": {"name": "s", "trainable": false}}]}})",
                            "<test>", 1);
  ASSERT_EQ(m.num_layers(), 2);
  EXPECT_EQ(m.layer(0).class_name(), "FixupBias");
  EXPECT_FALSE(m.layer(1).trainable());
  EXPECT_EQ(m.count_params(), 2);
}

}  // namespace
}  // namespace keel
