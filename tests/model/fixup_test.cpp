// keel::fixup(): the initialisation rule of Zhang, Dauphin & Ma 2019 on residual MLPs built here
// with named layers (so the test finds the branch layers without the code under test), the
// inserted scalar layers and where they sit, the errors, and a short training run.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/layers/initializers.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/fixup.h"
#include "keel/model/model.h"

namespace keel {
namespace {

constexpr int64_t kWidth = 64;

std::string name_of(const char* what, int64_t block, int64_t layer) {
  return "b" + std::to_string(block) + "_" + what + std::to_string(layer);
}

// Input(20) -> Dense "stem" -> `blocks` x Add([h, Dense(elu) -> ... -> Dense]) with `m` Dense
// layers per branch (named b<i>_dense<j>) -> Dense(10, softmax) "head".
Model residual_mlp(int64_t blocks, int64_t m) {
  KerasTensor x = Input({20});
  KerasTensor h = Dense(kWidth, {.name = "stem"})(x);
  for (int64_t i = 0; i < blocks; ++i) {
    KerasTensor b = h;
    for (int64_t j = 0; j < m; ++j) {
      DenseOptions o{.name = name_of("dense", i, j)};
      if (j + 1 < m) o.activation = "elu";
      b = Dense(kWidth, o)(b);
    }
    h = Add({.name = name_of("add", i, 0)})({h, b});
  }
  return Model(x, Dense(10, {.activation = "softmax", .name = "head"})(h), "toy_resnet");
}

std::vector<float> values_of(Model& model, const std::string& layer, size_t var = 0) {
  const Variable& v = model.get_layer(layer).variables().at(var);
  return {v.value, v.value + v.size()};
}

bool all_zero(const std::vector<float>& v) {
  for (float x : v)
    if (x != 0.0f) return false;
  return true;
}

// The layer producing input `i` of the (first) node of `layer`.
const Layer& producer_of_input(const Model& model, const std::string& layer, size_t i = 0) {
  for (const GraphNode& node : model.nodes()) {
    if (node.layer->name() != layer) continue;
    const int64_t p = model.tensors()[size_t(node.inputs.at(i))].producer;
    EXPECT_GE(p, 0) << layer << " input " << i << " is a model input";
    return *model.nodes()[size_t(std::max<int64_t>(p, 0))].layer;
  }
  ADD_FAILURE() << "no node of " << layer;
  return *model.nodes().front().layer;
}

// Sample mean and standard deviation of the first-layer kernels of every branch.
std::pair<double, double> first_kernel_stats(Model& model, int64_t blocks) {
  double sum = 0, sum2 = 0, n = 0;
  for (int64_t i = 0; i < blocks; ++i) {
    for (float x : values_of(model, name_of("dense", i, 0))) {
      sum += x;
      sum2 += double(x) * x;
      n += 1;
    }
  }
  const double mean = sum / n;
  return {mean, std::sqrt(sum2 / n - mean * mean)};
}

TEST(Fixup, TwoLayerBranchesFollowThePaperRule) {
  constexpr int64_t kBlocks = 16;
  Model model = residual_mlp(kBlocks, 2);
  const std::vector<float> stem_before = values_of(model, "stem");
  EXPECT_EQ(fixup(model, 7), kBlocks);

  // Zero: the last layer of every branch and the classifier, kernel and bias.
  for (int64_t i = 0; i < kBlocks; ++i) {
    EXPECT_TRUE(all_zero(values_of(model, name_of("dense", i, 1), 0))) << i;
    EXPECT_TRUE(all_zero(values_of(model, name_of("dense", i, 1), 1))) << i;
  }
  EXPECT_TRUE(all_zero(values_of(model, "head", 0)));
  EXPECT_TRUE(all_zero(values_of(model, "head", 1)));
  // He normal (std sqrt(2 / fan_in)) scaled by L^(-1/(2m-2)) = L^(-1/2) for m = 2; 16 x 64 x 64
  // draws put the sample std within 1% of the target.
  const auto [mean, sd] = first_kernel_stats(model, kBlocks);
  const double expected = std::sqrt(2.0 / kWidth) * std::pow(double(kBlocks), -0.5);
  EXPECT_NEAR(mean, 0.0, 0.03 * expected);
  EXPECT_NEAR(sd, expected, 0.03 * expected);
  // Keras's he_normal is truncated at 2 stddev of its underlying normal.
  double largest = 0;
  for (float x : values_of(model, name_of("dense", 3, 0))) largest = std::max(largest, double(std::fabs(x)));
  EXPECT_LE(largest, 2.0 * expected / 0.87962566103423978 + 1e-6);
  // Outside the branches nothing changes.
  EXPECT_EQ(values_of(model, "stem"), stem_before);
}

TEST(Fixup, ThreeLayerBranchesScaleByTheFourthRoot) {
  constexpr int64_t kBlocks = 16;
  Model model = residual_mlp(kBlocks, 3);
  fixup(model, 7);
  // m = 3: both non-final branch layers scaled by L^(-1/4) = 0.5.
  const double expected = std::sqrt(2.0 / kWidth) * 0.5;
  EXPECT_NEAR(first_kernel_stats(model, kBlocks).second, expected, 0.03 * expected);
  double sum2 = 0, n = 0;
  for (int64_t i = 0; i < kBlocks; ++i) {
    for (float x : values_of(model, name_of("dense", i, 1))) sum2 += double(x) * x, n += 1;
    EXPECT_TRUE(all_zero(values_of(model, name_of("dense", i, 2)))) << i;
  }
  EXPECT_NEAR(std::sqrt(sum2 / n), expected, 0.03 * expected);
}

TEST(Fixup, ScalarLayersSitWhereTheOfficialCodePutsThem) {
  constexpr int64_t kBlocks = 3;
  Model model = residual_mlp(kBlocks, 2);
  fixup(model);
  EXPECT_EQ(model.name(), "toy_resnet");
  EXPECT_EQ(model.class_name(), std::string("Functional"));
  int64_t biases = 0, scales = 0;
  for (const auto& layer : model.layers()) {
    if (layer->class_name() == "FixupBias") {
      ++biases;
      EXPECT_EQ(layer->variables().at(0).value[0], 0.0f) << layer->name();
      EXPECT_TRUE(layer->variables().at(0).trainable);
    }
    if (layer->class_name() == "FixupScale") {
      ++scales;
      EXPECT_EQ(layer->variables().at(0).value[0], 1.0f) << layer->name();
    }
  }
  // Per branch: before each of the 2 Dense layers, and after the multiplier; one before the head.
  EXPECT_EQ(biases, 3 * kBlocks + 1);
  EXPECT_EQ(scales, kBlocks);
  for (int64_t i = 0; i < kBlocks; ++i) {
    const std::string add = name_of("add", i, 0);
    // add([skip, FixupBias(FixupScale(dense1(FixupBias(dense0(FixupBias(skip))))))])
    const Layer& end_bias = producer_of_input(model, add, 1);
    EXPECT_EQ(end_bias.class_name(), "FixupBias");
    const Layer& scale = producer_of_input(model, end_bias.name());
    EXPECT_EQ(scale.class_name(), "FixupScale");
    EXPECT_EQ(producer_of_input(model, scale.name()).name(), name_of("dense", i, 1));
    const Layer& mid_bias = producer_of_input(model, name_of("dense", i, 1));
    EXPECT_EQ(mid_bias.class_name(), "FixupBias");
    EXPECT_EQ(producer_of_input(model, mid_bias.name()).name(), name_of("dense", i, 0));
    const Layer& first_bias = producer_of_input(model, name_of("dense", i, 0));
    EXPECT_EQ(first_bias.class_name(), "FixupBias");
    // The skip is the Add's other input, unbiased: the block input itself.
    EXPECT_EQ(producer_of_input(model, first_bias.name()).name(),
              producer_of_input(model, add, 0).name());
  }
  EXPECT_EQ(producer_of_input(model, "head").class_name(), "FixupBias");
  // At initialisation every block is the identity and the classifier outputs uniform 0.1.
  Tensor x({4, 20});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
  const Tensor y = model.predict(x);
  for (int64_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], 0.1f);
}

// The built-in resnet-mlp-fixup builds with seed s and applies fixup(model, s): Fixup's draws must
// not replay the build's own stream, or the first branch's kernel is the stem's draws again.
TEST(Fixup, DrawsDoNotReplayTheModelInitialisation) {
  Model model = resnet_mlp_fixup(2, 42);
  std::vector<const Layer*> dense;  // the stem, then each branch's two, then the classifier
  for (const auto& layer : model.layers())
    if (layer->class_name() == "Dense") dense.push_back(layer.get());
  ASSERT_EQ(dense.size(), 6u);
  const Variable& kernel = dense[1]->variables().at(0);
  ASSERT_EQ(kernel.shape, (std::vector<int64_t>{128, 128}));
  std::vector<float> replayed(static_cast<size_t>(kernel.size()));
  Rng build_stream(42, /*stream=*/0);
  Initializer("he_normal").fill(replayed, kernel.shape, build_stream);
  const double factor = std::pow(2.0, -0.5);
  size_t same = 0;
  for (size_t i = 0; i < replayed.size(); ++i) {
    same += std::fabs(kernel.value[i] - float(replayed[i] * factor)) < 1e-7f;
  }
  EXPECT_LT(same, replayed.size() / 100) << "the first branch kernel replays Model::build's draws";
}

TEST(Fixup, SeedDrawsTheBranchWeights) {
  Model a = residual_mlp(2, 2), b = residual_mlp(2, 2), c = residual_mlp(2, 2);
  fixup(a, 1);
  fixup(b, 1);
  fixup(c, 2);
  EXPECT_EQ(values_of(a, "b1_dense0"), values_of(b, "b1_dense0"));
  EXPECT_NE(values_of(a, "b1_dense0"), values_of(c, "b1_dense0"));
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
    ADD_FAILURE() << "no keel::Error";
  } catch (const Error& e) {
    for (const auto& w : words)
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "'" << w << "' not in: " << e.what();
  }
}

TEST(Fixup, ErrorsNameTheModelAndTheProblem) {
  expect_error([] { Model m = seed_mlp(); m.set_name("no_skips"); m.build(); fixup(m); },
               {"'no_skips'", "no residual branch"});
  expect_error([] { Model m = resnet_mlp_bn(2); fixup(m); },
               {"'resnet_mlp_bn'", "BatchNormalization", "residual branch"});
  expect_error([] { Model m = residual_mlp(2, 2); fixup(m); fixup(m); },
               {"'toy_resnet'", "already has Fixup layers"});
  expect_error(
      [] {
        Model m = residual_mlp(2, 2);
        m.compile({.loss = "sparse_categorical_crossentropy"});
        fixup(m);
      },
      {"'toy_resnet'", "compile"});
  expect_error(
      [] {
        KerasTensor x = Input({8});
        KerasTensor h = Dense(8)(x);
        h = Add()({h, Activation("elu", {.name = "just_elu"})(h)});
        Model m(x, Dense(2, {.activation = "softmax"})(h), "weightless");
        fixup(m);
      },
      {"'weightless'", "'just_elu'", "no weight layer"});
  // A failed fixup leaves the model untouched and usable.
  Model m = resnet_mlp_bn(1);
  const int64_t layers = m.num_layers();
  EXPECT_THROW(fixup(m), Error);
  EXPECT_EQ(m.num_layers(), layers);
}

TEST(Fixup, BuiltinResnetMlpsHaveTheirBlocks) {
  Model plain = builtin_model("resnet-mlp-plain", {.blocks = 3});
  Model bn = builtin_model("resnet-mlp-bn", {.blocks = 3});
  Model fixed = builtin_model("resnet-mlp-fixup", {.blocks = 3});
  auto count = [](const Model& m, const std::string& cls) {
    int64_t n = 0;
    for (const auto& l : m.layers()) n += l->class_name() == cls;
    return n;
  };
  EXPECT_EQ(count(plain, "Add"), 3);
  EXPECT_EQ(count(plain, "Dense"), 2 * 3 + 2);
  EXPECT_EQ(count(bn, "BatchNormalization"), 2 * 3);
  EXPECT_EQ(count(fixed, "FixupScale"), 3);
  EXPECT_EQ(count(fixed, "FixupBias"), 3 * 3 + 1);
  EXPECT_EQ(fixed.input_shape(), Shape::batched({28, 28}));
  EXPECT_EQ(count(builtin_model("resnet-mlp-plain"), "Add"), kDefaultResidualBlocks);
  expect_error([] { builtin_model("seed-mlp", {.blocks = 2}); }, {"'seed-mlp'", "blocks"});
  expect_error([] { builtin_model("resnet-mlp-bn", {.blocks = 0}); }, {"blocks 0", ">= 1"});
}

TEST(Fixup, DeepFixupNetworkLearnsAToyProblem) {
  // Three Gaussian blobs; 16 residual blocks without normalization, Keras's default SGD.
  Tensor x({900, 20}), y({900, 1});
  Rng rng(5);
  for (int64_t i = 0; i < 900; ++i) {
    const auto label = static_cast<int64_t>(rng.uniform_int(3));
    y[i] = float(label);
    for (int64_t j = 0; j < 20; ++j) x[i * 20 + j] = float(rng.normal() + (j % 3 == label ? 1.0 : 0.0));
  }
  Model model = residual_mlp(16, 2);
  fixup(model);
  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const History h = model.fit(x, y, {.epochs = 5, .verbose = 0});
  EXPECT_GT(h["accuracy"].back(), 0.8);
  EXPECT_TRUE(std::isfinite(h["loss"].back()));
}

}  // namespace
}  // namespace keel
