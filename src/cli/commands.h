// keel's subcommands. Each registers its flags on a CLI11 app and returns the handler to run when
// it was chosen. The CLI only parses flags and calls into the library.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace keel::cli {

using Handler = std::function<int()>;

Handler add_summary_command(CLI::App& app);
Handler add_variables_command(CLI::App& app);
Handler add_train_command(CLI::App& app);
Handler add_plot_command(CLI::App& app);
// Deployment (deploy_commands.cpp): fold-bn, evaluate, predict, export.
Handler add_fold_bn_command(CLI::App& app);
Handler add_evaluate_command(CLI::App& app);
Handler add_predict_command(CLI::App& app);
Handler add_export_command(CLI::App& app);

// Makes every integer option of every subcommand decimal only: no octal / hex reading of "010" /
// "0x2", no silent saturation of out-of-range values, no trailing junk (flag_values.cpp).
void require_decimal_integers(CLI::App& app);
// Makes an explicitly empty value ('') an error for every option but --title (flag_values.cpp).
void reject_empty_values(CLI::App& app);

}  // namespace keel::cli
