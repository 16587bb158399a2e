// Ready-made models: the seed material's two (Hands-On ML ch. 11.1.3) and three residual MLPs for
// training without normalization (issue 12; docs/normalization_free.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/model/sequential.h"

namespace keel {

// Flatten(28x28), BN, Dense 300 elu he_normal, BN, Dense 100 elu he_normal, BN, Dense 10 softmax.
Model seed_mlp();
// BN before each activation: Dense(use_bias=false) -> BN -> Activation("elu").
Model seed_mlp_bn_before();
// The seed's BN-before-activation pattern in a CNN (issue 13): Reshape((28, 28, 1)), twice
// [Conv2D(32, 3, same, no bias, he_normal), BN, relu], MaxPooling2D, the same twice with 64
// filters, MaxPooling2D, Flatten, Dense(128, no bias, he_normal), BN, relu, Dropout(0.3),
// Dense(10, softmax).
Model seed_cnn();
// The seed's recipe on sequences (issue 14): Fashion-MNIST's 28 rows as 28 timesteps of 28
// pixels, LSTM(128), Dense(10, softmax).
Model seed_lstm();
// The adding problem's model (issue 14, docs/exploding_gradients.md): Input (timesteps, 2),
// SimpleRNN(50) (the paper's 50 hidden units), Dense(1). The recurrent kernel starts orthogonal
// with gain kAddingRecurrentGain: above 1, so gradients through time explode as in the paper's
// failing runs, and plain SGD does not train it.
inline constexpr double kAddingRecurrentGain = 1.2;
Model adding_srnn(int64_t timesteps);
// The same problem for an LSTM(50) (Keras defaults), the gated cell that keeps its gradients in
// range without clipping: Input (timesteps, 2), LSTM(50), Dense(1).
Model adding_lstm(int64_t timesteps);

// Residual MLPs for 28x28 inputs: Input(28, 28), Flatten, Dense(128) stem, `blocks` residual
// blocks h = Add([h, branch(h)]), Dense(10, softmax). Keras default initialisers.
//   plain: branch = Dense(128, elu) -> Dense(128)
//   bn:    branch = Dense(128) -> BN -> Activation(elu) -> Dense(128) -> BN
//          (tools/golden/functional_keras.py residual_mlp_bn)
//   fixup: the plain model after keel::fixup(model, seed) (keel/model/fixup.h)
constexpr int64_t kDefaultResidualBlocks = 32;
Model resnet_mlp_plain(int64_t blocks = kDefaultResidualBlocks);
Model resnet_mlp_bn(int64_t blocks = kDefaultResidualBlocks);
Model resnet_mlp_fixup(int64_t blocks = kDefaultResidualBlocks, uint64_t seed = 42);

struct BuiltinModelOptions {
  uint64_t seed = 42;             // initialisation
  std::optional<int64_t> blocks;  // residual models only (default kDefaultResidualBlocks)
  std::optional<int64_t> timesteps;  // sequence-task models only (adding-*; default 100)
};

// "seed-mlp", "seed-mlp-bn-before", "seed-cnn", "seed-lstm", "adding-srnn", "adding-lstm",
// "resnet-mlp-plain", "resnet-mlp-bn", "resnet-mlp-fixup".
const std::vector<std::string>& builtin_model_names();
// The names joined by ", " (for messages and help texts).
std::string builtin_model_list();
// Built and initialised with options.seed. Throws keel::Error listing the allowed names when `name`
// is not one of them, and naming the model when `blocks` is given to a model without blocks or
// is < 1.
Model builtin_model(std::string_view name, BuiltinModelOptions options = {});
bool is_builtin_model(std::string_view name);
// Whether builtin_model(name) takes `blocks`.
bool builtin_model_has_blocks(std::string_view name);
// Whether the model's input length comes from the data (adding-*).
bool builtin_model_has_timesteps(std::string_view name);

}  // namespace keel
