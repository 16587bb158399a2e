// keel summary [MODEL] / keel variables [MODEL] [--layer I]
#include <iostream>
#include <memory>

#include "commands.h"
#include "keel/core/error.h"
#include "model_arg.h"

namespace keel::cli {

Handler add_summary_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("summary", "Print model.summary() as tf.keras 2.x does");
  auto model = std::make_shared<ModelFlags>();
  add_model_flags(*cmd, *model);
  return [model] {
    std::cout << load_model_arg(*model, 42).summary();
    return 0;
  };
}

Handler add_variables_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("variables", "List variables: name, shape, trainable");
  auto model = std::make_shared<ModelFlags>();
  auto layer = std::make_shared<int64_t>(-1);
  add_model_flags(*cmd, *model);
  cmd->add_option("--layer", *layer, "only the variables of layer I (0-based, as model.layers[I])");
  return [model, layer] {
    Model m = load_model_arg(*model, 42);
    if (*layer != -1) {
      KEEL_CHECK(*layer >= 0 && *layer < m.num_layers(), "--layer ", *layer,
                 " is out of range; model '", m.name(), "' has layers 0..", m.num_layers() - 1);
    }
    for (int64_t i = 0; i < m.num_layers(); ++i) {
      if (*layer != -1 && i != *layer) continue;
      for (const auto& v : m.layer(i).variables()) {
        std::cout << v.name << "  " << Shape(v.shape).to_string() << "  "
                  << (v.trainable ? "trainable" : "non-trainable") << "\n";
      }
    }
    return 0;
  };
}

}  // namespace keel::cli
