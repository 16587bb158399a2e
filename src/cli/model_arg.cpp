#include "model_arg.h"

#include <filesystem>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/io/saved_model.h"
#include "keel/layers/batch_normalization.h"
#include "keel/layers/dtype_policy.h"
#include "keel/model/builtin_models.h"
#include "keel/model/fixup.h"

namespace keel::cli {

void add_model_flags(CLI::App& cmd, ModelFlags& flags) {
  cmd.add_option("MODEL", flags.model,
                 "built-in model (seed-mlp (default), seed-mlp-bn-before, seed-cnn, seed-lstm, "
                 "adding-srnn, adding-lstm, resnet-mlp-plain, resnet-mlp-bn, resnet-mlp-fixup), a Keras JSON config file, or a saved model "
                 "directory");
  cmd.add_option("--blocks", flags.blocks,
                 "residual blocks of a resnet-mlp-* model (default 32)");
  cmd.add_flag("--fixup", flags.fixup,
               "apply Fixup to a residual model without normalization (zero-initialised last "
               "layers, scaled He init, scalar biases and multipliers; docs/normalization_free.md)");
  cmd.add_flag("--synchronized-bn", flags.synchronized_bn,
               "make every BatchNormalization layer synchronized (Keras synchronized=True): under "
               "mpirun the batch statistics are those of the global batch (docs/distributed.md)");
  cmd.add_option("--dtype-policy", flags.dtype_policy,
                 "Keras dtype policy of every layer: float32 (default) or mixed_bfloat16 (bf16 "
                 "matmul/convolution inputs, float32 accumulation, weights and outputs; replaces "
                 "the policies a config or saved model names; docs/mixed_precision.md)");
}

namespace {

Model load_unmodified(const std::string& model, std::optional<int64_t> blocks,
                      std::optional<int64_t> timesteps, uint64_t seed) {
  if (is_builtin_model(model)) {
    // Fixed-shape models check the data's shape instead.
    if (!builtin_model_has_timesteps(model)) timesteps.reset();
    return builtin_model(model, {.seed = seed, .blocks = blocks, .timesteps = timesteps});
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  KEEL_CHECK(fs::exists(model, ec), "MODEL '", model, "' is neither a built-in model (",
             builtin_model_list(), ") nor an existing file or saved model directory");
  // A saved model directory (keel train --save, tfjs model.save): its weights, not `seed`.
  if (fs::is_directory(model, ec)) return load_model(model);
  // A device or pipe (/dev/zero) was read until memory ran out (std::bad_alloc, "internal error").
  KEEL_CHECK(fs::is_regular_file(model, ec), "MODEL '", model, "' is not a regular file; expected a ",
             "Keras JSON config file or a saved model directory");
  return load_model_config(model, seed);
}

}  // namespace

Model load_model_arg(const ModelFlags& flags, uint64_t seed) {
  if (flags.blocks) {
    KEEL_CHECK(*flags.blocks >= 1, "--blocks ", *flags.blocks,
               " is not allowed; expected an integer >= 1");
    KEEL_CHECK(builtin_model_has_blocks(flags.model), "--blocks applies to the resnet-mlp-* ",
               "built-in models only, not MODEL '", flags.model, "'");
  }
  std::error_code ec;
  KEEL_CHECK(!flags.fixup || !std::filesystem::is_directory(flags.model, ec), "--fixup ",
             "re-initialises a model; it does not apply to the saved model directory '",
             flags.model, "'");
  std::optional<DTypePolicy> policy;
  if (flags.dtype_policy) {
    try {
      policy = DTypePolicy(*flags.dtype_policy);
    } catch (const Error& e) {
      throw Error(std::string("--dtype-policy: ") + e.what());
    }
    // Built-in models take the global policy as they are constructed (as under Keras's
    // set_global_policy); configs and saved models name theirs, which the loop below replaces.
    mixed_precision::set_global_policy(*policy);
  }
  Model model = load_unmodified(flags.model, flags.blocks, flags.timesteps, seed);
  if (policy) {
    for (const auto& layer : model.layers()) layer->set_dtype_policy(*policy);
  }
  if (flags.fixup) fixup(model, seed);
  if (flags.synchronized_bn) {
    int64_t found = 0;
    for (const auto& layer : model.layers()) {
      if (auto* bn = dynamic_cast<BatchNormalization*>(layer.get())) {
        bn->set_synchronized(true);
        ++found;
      }
    }
    KEEL_CHECK(found > 0, "--synchronized-bn: model '", model.name(), "' (MODEL '", flags.model,
               "') has no BatchNormalization layer");
  }
  return model;
}

}  // namespace keel::cli
