// The mixed_bfloat16 dtype policy (keel/layers/dtype_policy.h): names and errors as Keras's, the
// global policy, configs as tf.keras 2.12 writes them (tests/data/mixed_precision, from
// tools/golden/mixed_precision_keras.py), Dense's products from bf16 operands, the float32
// fallback, and float32 master weights.
#include "keel/layers/dtype_policy.h"

#include <gtest/gtest.h>

#include <bit>
#include <optional>
#include <tuple>
#include <filesystem>

#include "keel/deploy/fold_batch_norm.h"
#include "keel/io/model_config.h"
#include "keel/kernels/bf16.h"
#include "keel/kernels/gemm.h"
#include "keel/layers/dense.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "layers/layer_harness.h"
#include "test_util.h"
#include "kernels/bf16_kernels_scope.h"

namespace keel {
namespace {

using testing::Bf16KernelsScope;

using nlohmann::json;
using testing::LayerHarness;
using testing::random_vector;

const std::filesystem::path kFixtures = std::filesystem::path(KEEL_SOURCE_DIR) / "tests/data/mixed_precision";

class GlobalPolicyScope {
 public:
  explicit GlobalPolicyScope(const DTypePolicy& policy) : saved_(mixed_precision::global_policy()) {
    mixed_precision::set_global_policy(policy);
  }
  ~GlobalPolicyScope() { mixed_precision::set_global_policy(saved_); }

 private:
  DTypePolicy saved_;
};

std::vector<float> rounded(std::vector<float> v) {
  round_to_bf16(v.data(), static_cast<int64_t>(v.size()));
  return v;
}

TEST(MixedPrecision, PolicyNamesAndErrorsAsKeras) {
  const DTypePolicy mixed("mixed_bfloat16");
  EXPECT_EQ(mixed.name(), "mixed_bfloat16");
  EXPECT_EQ(mixed.compute_dtype(), "bfloat16");
  EXPECT_EQ(mixed.variable_dtype(), "float32");
  EXPECT_TRUE(mixed.computes_in_bf16());
  EXPECT_FALSE(DTypePolicy().computes_in_bf16());
  EXPECT_EQ(DTypePolicy().compute_dtype(), "float32");
  const std::string bogus = testing::error_of([] { DTypePolicy("bogus"); });
  EXPECT_NE(bogus.find("Cannot convert value bogus to a mixed precision Policy. Valid policies include "
                       "'mixed_float16', 'mixed_bfloat16', and the name of any dtype such as 'float32'."),
            std::string::npos) << bogus;
  const std::string fp16 = testing::error_of([] { DTypePolicy("mixed_float16"); });
  EXPECT_NE(fp16.find("'mixed_float16' is a Keras policy keel does not implement"), std::string::npos) << fp16;
}

TEST(MixedPrecision, LayersTakeTheGlobalPolicyWhenConstructed) {
  std::optional<Dense> mixed;
  {
    const GlobalPolicyScope scope("mixed_bfloat16");
    mixed.emplace(3);
    EXPECT_EQ(mixed_precision::global_policy().name(), "mixed_bfloat16");
  }
  const Dense plain(3);
  EXPECT_EQ(mixed->dtype_policy().name(), "mixed_bfloat16");
  EXPECT_EQ(plain.dtype_policy().name(), "float32");
  EXPECT_EQ(mixed->get_config()["dtype"], json::parse(R"({"class_name": "Policy", "config": {"name": "mixed_bfloat16"}})"));
  EXPECT_EQ(plain.get_config()["dtype"], "float32");
}

// tf.keras's to_json of the seed MLP under set_global_policy("mixed_bfloat16"): every layer keeps
// the policy, the summary is tf.keras's, and keel writes the layers back as tf.keras wrote them.
TEST(MixedPrecision, ConfigsAndSummaryAsTfKeras) {
  for (const char* name : {"seed_mlp_mixed", "seed_mlp_per_layer"}) {
    SCOPED_TRACE(name);
    reset_default_names();
    const json theirs = json::parse(testing::read_text(kFixtures / (std::string(name) + ".json")));
    Model model = load_model_config(kFixtures / (std::string(name) + ".json"));
    int mixed = 0;
    for (const auto& layer : model.layers()) mixed += layer->dtype_policy().computes_in_bf16();
    EXPECT_EQ(mixed, std::string(name) == "seed_mlp_mixed" ? 7 : 6);
    if (std::string(name) == "seed_mlp_mixed") {
      EXPECT_EQ(model.summary(), testing::read_text(kFixtures / "seed_mlp_mixed.txt"));
    }
    const json ours = model_to_config(model);
    EXPECT_EQ(ours["config"]["layers"], theirs["config"]["layers"]);
  }
  // Keras 3 writes a DTypePolicy object.
  auto keras3 = layer_from_config("Dense", json::parse(R"({"units": 2, "dtype": {"module": "keras",
      "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}, "registered_name": null}})"));
  EXPECT_EQ(keras3->dtype_policy().name(), "mixed_bfloat16");
}

TEST(MixedPrecision, ConfigErrorsNameTheLayerAndValue) {
  const std::string fp16 = testing::error_of([] {
    layer_from_config("Dense", json::parse(R"({"units": 2, "dtype": {"class_name": "Policy",
        "config": {"name": "mixed_float16"}}})"));
  });
  EXPECT_NE(fp16.find("Dense"), std::string::npos) << fp16;
  EXPECT_NE(fp16.find("mixed_float16"), std::string::npos) << fp16;
  const std::string odd = testing::error_of([] {
    layer_from_config("Dense", json::parse(R"({"units": 2, "dtype": {"class_name": "Shape", "config": {"name": "x"}}})"));
  });
  EXPECT_NE(odd.find("\"Shape\""), std::string::npos) << odd;
  const std::string number = testing::error_of([] { layer_from_config("Dense", json::parse(R"({"units": 2, "dtype": 3})")); });
  EXPECT_NE(number.find("'dtype'"), std::string::npos) << number;
}

// Under mixed_bfloat16 Dense's three products take bf16 operands and sum in f32: forward
// round(x)·round(W) + b, dW = round(x)ᵀ·round(dy), dx = round(dy)·round(W)ᵀ (emulated kernels,
// which every CPU has; the native ones are checked in bf16_test).
TEST(MixedPrecision, DenseProductsTakeBf16Operands) {
  const Bf16KernelsScope kernels(Bf16Kernels::kEmulated);
  const int64_t batch = 6, in = 19, out = 7;
  LayerHarness h(std::make_unique<Dense>(out, DenseOptions{.bias_initializer = "random_normal"}),
                 Shape{kBatchUnknown, in});
  h.layer().set_dtype_policy("mixed_bfloat16");
  const auto x = random_vector(batch * in, 5), dy = random_vector(batch * out, 6);
  const auto kernel = h.value("kernel"), bias = h.value("bias");
  const auto y = h.forward(x, batch, Mode::kTraining);
  h.zero_grads();
  const auto dx = h.backward(x, y, dy, batch, Write::kSet);

  std::vector<float> y_ref(y.size()), dw_ref(kernel.size()), dx_ref(dx.size()), y_f32(y.size());
  gemm_ref(rounded(x).data(), rounded(kernel).data(), y_ref.data(), batch, out, in, false, false, false);
  gemm_ref(x.data(), kernel.data(), y_f32.data(), batch, out, in, false, false, false);
  gemm_ref(rounded(x).data(), rounded(dy).data(), dw_ref.data(), in, out, batch, true, false, false);
  gemm_ref(rounded(dy).data(), rounded(kernel).data(), dx_ref.data(), batch, in, out, false, true, false);
  double differs_from_f32 = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    const float b = bias[i % out];
    EXPECT_NEAR(y[i], y_ref[i] + b, 1e-5) << i;
    differs_from_f32 = std::max(differs_from_f32, std::fabs(double(y[i]) - (y_f32[i] + b)));
  }
  EXPECT_GT(differs_from_f32, 1e-4);  // bf16 rounding happened
  const auto dw = h.grad("kernel"), db = h.grad("bias");
  for (size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw[i], dw_ref[i], 1e-5) << i;
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], dx_ref[i], 1e-5) << i;
  for (int64_t j = 0; j < out; ++j) {  // the bias gradient stays f32 (no product)
    double sum = 0.0;
    for (int64_t r = 0; r < batch; ++r) sum += dy[r * out + j];
    EXPECT_NEAR(db[j], sum, 1e-5);
  }
}

// Conv2D and DepthwiseConv2D hand their convolutions bf16 operands under the policy (the kernels
// themselves are checked in bf16_test): the layer's output is the convolution of the rounded
// input and kernel, and differs from the float32 policy's.
TEST(MixedPrecision, ConvolutionLayersTakeBf16Operands) {
  const Bf16KernelsScope kernels(Bf16Kernels::kEmulated);
  const int64_t batch = 2;
  const Shape in{kBatchUnknown, 6, 5, 3};
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Conv2D>(4, Size2{3, 3}));
  layers.push_back(std::make_unique<DepthwiseConv2D>(Size2{3, 3}));
  for (auto& layer : layers) {
    SCOPED_TRACE(layer->class_name());
    std::unique_ptr<Layer> twin = layer->clone();
    LayerHarness mixed(std::move(layer), in, 4), plain(std::move(twin), in, 4);
    mixed.layer().set_dtype_policy("mixed_bfloat16");
    const auto x = random_vector(batch * 6 * 5 * 3, 10);
    const auto y = mixed.forward(x, batch, Mode::kTraining), y32 = plain.forward(x, batch, Mode::kTraining);
    // The reference: the float32 layer on rounded input and kernel.
    Variable& kernel = plain.layer().variables()[0];  // "kernel" or "depthwise_kernel"
    round_to_bf16(kernel.value, kernel.size());
    const auto y_ref = plain.forward(rounded(x), batch, Mode::kTraining);
    double differs = 0.0;
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_NEAR(y[i], y_ref[i], 1e-5) << i;
      differs = std::max(differs, std::fabs(double(y[i]) - y32[i]));
    }
    EXPECT_GT(differs, 1e-4);
    // Backward (linear activation, so dz = dy): dx from rounded dy and kernel, dkernel from
    // rounded x and dy, i.e. the float32 layer's backward on rounded operands.
    const auto dy = random_vector(static_cast<int64_t>(y.size()), 11);
    mixed.zero_grads();
    plain.zero_grads();
    const auto dx = mixed.backward(x, y, dy, batch, Write::kSet);
    const auto dx_ref = plain.backward(rounded(x), y_ref, rounded(dy), batch, Write::kSet);
    for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], dx_ref[i], 1e-5) << i;
    const Variable& dk = mixed.layer().variables()[0];
    const Variable& dk_ref = plain.layer().variables()[0];
    for (int64_t i = 0; i < dk.size(); ++i) EXPECT_NEAR(dk.grad[i], dk_ref.grad[i], 1e-5) << i;
  }
}

// fold_batch_norm rebuilds the layers BN folds into: they keep the policy, like every other layer.
TEST(MixedPrecision, FoldedLayersKeepThePolicy) {
  reset_default_names();
  std::optional<Model> model;
  {
    const GlobalPolicyScope scope("mixed_bfloat16");  // the model's policy, not the fold's
    model.emplace(builtin_model("seed-mlp"));
  }
  model->build(std::nullopt, 1);
  const FoldResult folded = fold_batch_norm(*model);
  ASSERT_EQ(folded.folded.size(), 3u);
  for (const auto& layer : folded.model.layers()) {
    EXPECT_EQ(layer->dtype_policy().name(), "mixed_bfloat16") << layer->name();
  }
}

// Without bf16 kernels, mixed_bfloat16 computes exactly what float32 does, after one warning per
// process.
TEST(MixedPrecision, FallbackIsFloat32AfterOneWarning) {
  const Bf16KernelsScope kernels(Bf16Kernels::kNone);
  const auto x = random_vector(4 * 9, 8);
  LayerHarness plain(std::make_unique<Dense>(5, DenseOptions{.activation = "elu"}), Shape{kBatchUnknown, 9}, 3);
  std::unique_ptr<Dense> layer;
  {
    const GlobalPolicyScope policy("mixed_bfloat16");
    layer = std::make_unique<Dense>(5, DenseOptions{.activation = "elu"});
  }
  LayerHarness mixed(std::move(layer), Shape{kBatchUnknown, 9}, 3);
  EXPECT_EQ(bf16_fallback_warnings(), 1);
  LayerHarness again(std::make_unique<Dense>(5), Shape{kBatchUnknown, 9}, 3);
  again.layer().set_dtype_policy("mixed_bfloat16");
  EXPECT_EQ(bf16_fallback_warnings(), 1);
  EXPECT_EQ(mixed.forward(x, 4, Mode::kTraining), plain.forward(x, 4, Mode::kTraining));
}

// Training under mixed_bfloat16 updates float32 master weights: the weights after a few steps are
// not all bf16 values (an update rounded to bf16, or weights stored in bf16, would make them so),
// and the loss falls about as under float32.
TEST(MixedPrecision, MasterWeightsStayFloat32) {
  const Bf16KernelsScope kernels(Bf16Kernels::kEmulated);
  auto train = [](const DTypePolicy& policy) {
    const GlobalPolicyScope scope(policy);
    reset_default_names();
    Sequential model(Dense(16, {.activation = "relu", .input_shape = {8}}), Dense(3, {.activation = "softmax"}));
    model.build(std::nullopt, 42);
    model.compile({.loss = "sparse_categorical_crossentropy"});
    Tensor x({32, 8}), y({32});
    const auto xs = random_vector(32 * 8, 9);
    std::copy(xs.begin(), xs.end(), x.data());
    for (int64_t i = 0; i < 32; ++i) y.data()[i] = static_cast<float>(i % 3);
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
      last = static_cast<float>(*model.train_on_batch(x, y).get("loss"));
      if (step == 0) first = last;
    }
    int not_bf16 = 0;
    for (const Variable* v : model.variables()) {
      for (int64_t i = 0; i < v->size(); ++i) not_bf16 += (std::bit_cast<uint32_t>(v->value[i]) & 0xffffu) != 0;
    }
    return std::tuple{first, last, not_bf16};
  };
  const auto [first32, last32, unused] = train("float32");
  const auto [first16, last16, not_bf16] = train("mixed_bfloat16");
  EXPECT_GT(not_bf16, 100);
  EXPECT_LT(last16, first16);
  EXPECT_NEAR(first16, first32, 0.01 * first32);
  EXPECT_NEAR(last16, last32, 0.02 * last32);
}

}  // namespace
}  // namespace keel
