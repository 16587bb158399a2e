// The seed material's two models (Hands-On ML ch. 11.1.3), ready-made.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "keel/model/sequential.h"

namespace keel {

// Flatten(28x28), BN, Dense 300 elu he_normal, BN, Dense 100 elu he_normal, BN, Dense 10 softmax.
Model seed_mlp();
// BN before each activation: Dense(use_bias=false) -> BN -> Activation("elu").
Model seed_mlp_bn_before();

// Names accepted by builtin_model(): "seed-mlp", "seed-mlp-bn-before".
const std::vector<std::string>& builtin_model_names();
// Throws keel::Error listing the allowed names when `name` is not one of them.
Model builtin_model(std::string_view name);
bool is_builtin_model(std::string_view name);

}  // namespace keel
