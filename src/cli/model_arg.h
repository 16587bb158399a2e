// The MODEL argument shared by subcommands: a built-in name or a Keras JSON config path.
#pragma once

#include <cstdint>
#include <string>

#include "keel/model/sequential.h"

namespace keel::cli {

// "seed-mlp" / "seed-mlp-bn-before", or a path to a Keras JSON config (model.to_json() output or a
// TF.js model.json). Throws keel::Error naming the argument when it is neither.
Model load_model_arg(const std::string& model, uint64_t seed);

}  // namespace keel::cli
