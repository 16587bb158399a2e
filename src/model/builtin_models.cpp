#include "keel/model/builtin_models.h"

#include "keel/core/error.h"
#include "keel/layers/layers.h"

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

const std::vector<std::string>& builtin_model_names() {
  static const std::vector<std::string> names = {"seed-mlp", "seed-mlp-bn-before"};
  return names;
}

bool is_builtin_model(std::string_view name) {
  for (const auto& n : builtin_model_names())
    if (n == name) return true;
  return false;
}

Model builtin_model(std::string_view name) {
  if (name == "seed-mlp") return seed_mlp();
  if (name == "seed-mlp-bn-before") return seed_mlp_bn_before();
  KEEL_FAIL("unknown model '", name,
            "'; expected a built-in model (seed-mlp, seed-mlp-bn-before) or a path to a Keras "
            "JSON config");
}

}  // namespace keel
