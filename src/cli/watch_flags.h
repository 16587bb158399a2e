// The `keel train` flags of observability and resume (issue 6), kept out of train_command.cpp so
// that file stays small: --logdir, --grad-norm-every, --csv, --early-stopping, --checkpoint,
// --resume, --reduce-lr-on-plateau.
#pragma once

#include <cstdint>
#include <optional>

#include <CLI/CLI.hpp>

#include "keel/callbacks/observability.h"
#include "keel/model/training.h"

namespace keel::cli {

struct WatchFlags {
  ObservabilityOptions options;
  std::optional<int64_t> grad_norm_every;  // checked against --logdir
};

void add_watch_flags(CLI::App& cmd, WatchFlags& flags);
// Validates the flags and adds the callbacks (restoring from --resume) to `fit`.
void add_watch_callbacks(const WatchFlags& flags, Model& model, FitOptions& fit);

}  // namespace keel::cli
