// The MODEL argument shared by subcommands (a built-in name or a Keras JSON config path) and the
// flags that shape it: --blocks (residual built-ins), --fixup, --synchronized-bn, --dtype-policy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "keel/model/sequential.h"

namespace keel::cli {

struct ModelFlags {
  std::string model = "seed-mlp";
  std::optional<int64_t> blocks;  // --blocks N: residual blocks of a resnet-mlp-* model
  bool fixup = false;             // --fixup: keel::fixup() on the loaded model
  bool synchronized_bn = false;   // --synchronized-bn: every BatchNormalization synchronized
  std::optional<std::string> dtype_policy;  // --dtype-policy: every layer's (dtype_policy.h)
  // Not a flag: the sequence length of `train --data adding:T`, which sizes adding-srnn's input.
  std::optional<int64_t> timesteps;
};

// Registers the MODEL positional, --blocks, --fixup, --synchronized-bn and --dtype-policy on `cmd`.
void add_model_flags(CLI::App& cmd, ModelFlags& flags);

// The built-in model or the model of a Keras JSON config (model.to_json() output or a TF.js
// model.json), initialised with `seed`, or a saved model directory (its weights); then Fixup and
// synchronized BatchNormalization when asked, and --dtype-policy on every layer. Throws keel::Error naming the argument or flag when one is not allowed.
Model load_model_arg(const ModelFlags& flags, uint64_t seed);

}  // namespace keel::cli
