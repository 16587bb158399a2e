// The `keel train` flags of observability and resume (issue 6), kept out of train_command.cpp so
// that file stays small: --logdir, --grad-norm-every, --csv, --early-stopping, --checkpoint,
// --resume, --reduce-lr-on-plateau.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "keel/callbacks/observability.h"
#include "keel/model/training.h"

namespace keel::cli {

struct WatchFlags {
  ObservabilityOptions options;
  std::optional<int64_t> grad_norm_every;  // checked against --logdir
};

void add_watch_flags(CLI::App& cmd, WatchFlags& flags);
// A file the run writes at its end (--report, --csv, predict --output) must be writable where it
// is named: its directory exists and the path is not a directory. Checked before the work, not
// after an hour of training. Throws keel::Error naming `flag` and `path`.
void check_output_file(const std::string& flag, const std::string& path);

// Validates the flags and adds the callbacks (restoring from --resume) to `fit`.
void add_watch_callbacks(const WatchFlags& flags, Model& model, FitOptions& fit);

}  // namespace keel::cli
