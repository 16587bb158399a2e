#include "model_arg.h"

#include <filesystem>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/io/saved_model.h"
#include "keel/model/builtin_models.h"

namespace keel::cli {

Model load_model_arg(const std::string& model, uint64_t seed) {
  if (is_builtin_model(model)) {
    Model m = builtin_model(model);
    m.build(std::nullopt, seed);
    return m;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  KEEL_CHECK(fs::exists(model, ec), "MODEL '", model,
             "' is neither a built-in model (seed-mlp, seed-mlp-bn-before) nor an existing file ",
             "or saved model directory");
  // A saved model directory (keel train --save, tfjs model.save): its weights, not `seed`.
  if (fs::is_directory(model, ec)) return load_model(model);
  return load_model_config(model, seed);
}

}  // namespace keel::cli
