// keel: train, inspect and ship Keras-style networks on the CPU.
// Exit codes: 0 success, 2 bad input (flags, files: a keel::Error), 1 internal failure.
#include <exception>
#include <new>
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "keel/core/error.h"
#include "keel/dist/communicator.h"

namespace {

// "[rank 1 of 2] " in a data-parallel job (mpirun / srun), else nothing.
std::string rank_prefix() {
  try {
    const keel::Communicator& comm = keel::world();
    if (comm.size() > 1)
      return "[rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + "] ";
  } catch (const std::exception&) {  // the communicator itself failed: its error is reported
  }
  return {};
}

// A rank that failed ends the whole job: the others would otherwise wait in a collective forever.
int exit_code_after_error(int code) {
  try {
    const keel::Communicator& comm = keel::world();
    if (comm.size() > 1) comm.abort(code);
  } catch (const std::exception&) {
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"keel: Keras-style neural network training on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "keel 0.1.0");
  std::vector<std::pair<CLI::App*, keel::cli::Handler>> commands;
  const auto summary = keel::cli::add_summary_command(app);
  const auto variables = keel::cli::add_variables_command(app);
  const auto train = keel::cli::add_train_command(app);
  const auto plot = keel::cli::add_plot_command(app);
  const auto fold_bn = keel::cli::add_fold_bn_command(app);
  const auto evaluate = keel::cli::add_evaluate_command(app);
  const auto predict = keel::cli::add_predict_command(app);
  const auto export_model = keel::cli::add_export_command(app);
  keel::cli::require_decimal_integers(app);
  keel::cli::reject_empty_values(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      // CLI11 says only "A subcommand is required" for `keel frobnicate`: name the word.
      std::string known;
      for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        known += (known.empty() ? "" : ", ") + sub->get_name();
      std::cerr << "keel: unknown command '" << argv[1] << "'; expected one of: " << known << "\n";
      return 2;
    }
    std::cerr << "keel: " << e.what() << "\n";
    if (!app.get_subcommands().empty())
      std::cerr << "Run 'keel " << app.get_subcommands().front()->get_name() << " --help' for the allowed flags.\n";
    else
      std::cerr << "Run 'keel --help' for the commands.\n";
    return 2;
  }
  try {
    const CLI::App* chosen = app.get_subcommands().front();
    if (chosen->get_name() == "summary") return summary();
    if (chosen->get_name() == "variables") return variables();
    if (chosen->get_name() == "train") return train();
    if (chosen->get_name() == "plot") return plot();
    if (chosen->get_name() == "fold-bn") return fold_bn();
    if (chosen->get_name() == "evaluate") return evaluate();
    if (chosen->get_name() == "predict") return predict();
    if (chosen->get_name() == "export") return export_model();
    return 2;
  } catch (const keel::Error& e) {
    std::cout.flush();
    std::cerr << "keel: error: " << rank_prefix() << e.what() << "\n";
    return exit_code_after_error(2);
  } catch (const std::bad_alloc&) {
    // Sizes the checks allow can still exceed this machine's memory (a huge layer, --data
    // adding:100000): a limit of the input on this machine, not a keel bug.
    std::cout.flush();
    std::cerr << "keel: error: " << rank_prefix() << "out of memory: keel "
              << app.get_subcommands().front()->get_name()
              << " needs more memory than this process can get for the model, data or flags given"
              << " (the summary's parameter counts and --data's sizes are the usual causes)\n";
    return exit_code_after_error(2);
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "keel: internal error: " << rank_prefix() << e.what() << "\n";
    return exit_code_after_error(1);
  }
}
