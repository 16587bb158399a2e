#include "keel/model/builtin_models.h"

#include "keel/core/error.h"
#include "keel/layers/layers.h"
#include "keel/model/fixup.h"

namespace keel {

Model seed_mlp() {
  return Sequential(
      Flatten({.input_shape = {28, 28}}),
      BatchNormalization(),
      Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
      BatchNormalization(),
      Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"}),
      BatchNormalization(),
      Dense(10, {.activation = "softmax"}));
}

Model seed_mlp_bn_before() {
  return Sequential(
      Flatten({.input_shape = {28, 28}}),
      BatchNormalization(),
      Dense(300, {.use_bias = false, .kernel_initializer = "he_normal"}),
      BatchNormalization(),
      Activation("elu"),
      Dense(100, {.use_bias = false, .kernel_initializer = "he_normal"}),
      BatchNormalization(),
      Activation("elu"),
      Dense(10, {.activation = "softmax"}));
}

Model seed_cnn() {
  const Conv2DOptions conv{.padding = "same", .use_bias = false, .kernel_initializer = "he_normal"};
  return Sequential(
      Reshape({28, 28, 1}, {.input_shape = {28, 28}}),
      Conv2D(32, 3, conv), BatchNormalization(), Activation("relu"),
      Conv2D(32, 3, conv), BatchNormalization(), Activation("relu"),
      MaxPooling2D(),
      Conv2D(64, 3, conv), BatchNormalization(), Activation("relu"),
      Conv2D(64, 3, conv), BatchNormalization(), Activation("relu"),
      MaxPooling2D(),
      Flatten(),
      Dense(128, {.use_bias = false, .kernel_initializer = "he_normal"}),
      BatchNormalization(),
      Activation("relu"),
      Dropout(0.3),
      Dense(10, {.activation = "softmax"}));
}

Model seed_lstm() {
  return Sequential(LSTM(128, {.input_shape = {28, 28}}), Dense(10, {.activation = "softmax"}));
}

Model adding_srnn(int64_t timesteps) {
  KEEL_CHECK(timesteps >= 1, "model 'adding-srnn': timesteps ", timesteps, " must be >= 1");
  nlohmann::json orthogonal = {{"class_name", "Orthogonal"},
                               {"config", {{"gain", kAddingRecurrentGain}, {"seed", nullptr}}}};
  return Sequential(SimpleRNN(50, {.recurrent_initializer = Initializer::from_config(orthogonal),
                                   .input_shape = {timesteps, 2}}),
                    Dense(1));
}

Model adding_lstm(int64_t timesteps) {
  KEEL_CHECK(timesteps >= 1, "model 'adding-lstm': timesteps ", timesteps, " must be >= 1");
  return Sequential(LSTM(50, {.input_shape = {timesteps, 2}}), Dense(1));
}

namespace {

constexpr int64_t kWidth = 128;

template <typename Branch>
Model resnet_mlp(int64_t blocks, const char* name, Branch branch) {
  KEEL_CHECK(blocks >= 1, "model '", name, "': blocks ", blocks,
             " is not allowed; expected an integer >= 1");
  KerasTensor x = Input({28, 28});
  KerasTensor h = Dense(kWidth)(Flatten()(x));
  for (int64_t i = 0; i < blocks; ++i) h = Add()({h, branch(h)});
  return Model(x, Dense(10, {.activation = "softmax"})(h), name);
}

}  // namespace

Model resnet_mlp_plain(int64_t blocks) {
  return resnet_mlp(blocks, "resnet_mlp_plain", [](const KerasTensor& h) {
    return Dense(kWidth)(Dense(kWidth, {.activation = "elu"})(h));
  });
}

Model resnet_mlp_bn(int64_t blocks) {
  return resnet_mlp(blocks, "resnet_mlp_bn", [](const KerasTensor& h) {
    KerasTensor b = Activation("elu")(BatchNormalization()(Dense(kWidth)(h)));
    return BatchNormalization()(Dense(kWidth)(b));
  });
}

Model resnet_mlp_fixup(int64_t blocks, uint64_t seed) {
  Model model = resnet_mlp_plain(blocks);
  model.set_name("resnet_mlp_fixup");
  model.build(std::nullopt, seed);
  fixup(model, seed);
  return model;
}

const std::vector<std::string>& builtin_model_names() {
  static const std::vector<std::string> names = {"seed-mlp", "seed-mlp-bn-before", "seed-cnn", "seed-lstm", "adding-srnn", "adding-lstm",
                                                 "resnet-mlp-plain", "resnet-mlp-bn",
                                                 "resnet-mlp-fixup"};
  return names;
}

std::string builtin_model_list() {
  std::string list;
  for (const auto& n : builtin_model_names()) list += (list.empty() ? "" : ", ") + n;
  return list;
}

bool is_builtin_model(std::string_view name) {
  for (const auto& n : builtin_model_names())
    if (n == name) return true;
  return false;
}

bool builtin_model_has_blocks(std::string_view name) { return name.starts_with("resnet-mlp-"); }

bool builtin_model_has_timesteps(std::string_view name) { return name.starts_with("adding-"); }

Model builtin_model(std::string_view name, BuiltinModelOptions options) {
  KEEL_CHECK(is_builtin_model(name), "unknown model '", name, "'; expected a built-in model (",
             builtin_model_list(), ") or a path to a Keras JSON config");
  KEEL_CHECK(!options.blocks || builtin_model_has_blocks(name), "model '", name,
             "' has no residual blocks; blocks apply to the resnet-mlp-* models only");
  KEEL_CHECK(!options.timesteps || builtin_model_has_timesteps(name), "model '", name,
             "' has a fixed input shape; timesteps apply to the adding-* models only");
  const int64_t blocks = options.blocks.value_or(kDefaultResidualBlocks);
  if (name == "resnet-mlp-fixup") return resnet_mlp_fixup(blocks, options.seed);
  Model model = name == "seed-mlp"            ? seed_mlp()
                : name == "seed-mlp-bn-before" ? seed_mlp_bn_before()
                : name == "seed-cnn"           ? seed_cnn()
                : name == "seed-lstm"          ? seed_lstm()
                : name == "adding-srnn"        ? adding_srnn(options.timesteps.value_or(100))
                : name == "adding-lstm"        ? adding_lstm(options.timesteps.value_or(100))
                : name == "resnet-mlp-plain"   ? resnet_mlp_plain(blocks)
                                               : resnet_mlp_bn(blocks);
  model.build(std::nullopt, options.seed);
  return model;
}

}  // namespace keel
