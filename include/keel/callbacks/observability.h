// One call that sets up what `keel train --logdir/--csv/--early-stopping/--checkpoint/--resume/
// --reduce-lr-on-plateau` asks for, usable from library code too.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "keel/model/training.h"

namespace keel {

class Model;

struct ObservabilityOptions {
  std::string logdir;                 // TensorBoard event files; empty: none
  int64_t grad_norm_every = 100;      // TensorBoard gradient-norm interval (steps), 0: off
  std::string csv;                    // CSVLogger file; empty: none
  std::optional<int64_t> early_stopping_patience{};  // EarlyStopping(restore_best_weights=true)
  std::string checkpoint_dir;         // ModelCheckpoint every epoch into <dir>/checkpoint.keel
  std::string resume_dir;             // restore <dir>/checkpoint.keel; also the checkpoint_dir
                                      // when that is empty; the CSV log is appended to
  bool reduce_lr_on_plateau = false;  // ReduceLROnPlateau() with Keras defaults
  bool terminate_on_nan = true;       // TerminateOnNaN
  // With resume_dir: the learning rate the caller asked for (keel train --learning-rate). The
  // checkpoint restores its own with the optimizer state, so a different value is an error rather
  // than silently ignored; unset: the checkpoint's is used.
  std::optional<double> learning_rate{};
  // The number of training samples an epoch (keel train: the data minus --validation). Recorded
  // in checkpoints; on resume a checkpoint trained on another number is an error (another
  // --validation would replay other batches and validate on samples it trained on). Unset: not
  // recorded or checked.
  std::optional<int64_t> train_samples{};
};

// Validates `options` (keel::Error naming the flag), restores the model, optimizer and callback
// state from resume_dir (setting fit.initial_epoch; fit.seed and fit.batch_size must match the
// checkpoint, and so must options.learning_rate when set), and appends the callbacks to fit.callbacks in the order TerminateOnNaN,
// TensorBoard, CSVLogger, EarlyStopping, ReduceLROnPlateau, ModelCheckpoint. The monitored value
// is val_loss when fit has validation data, else loss. Messages go to `out` (nullptr: std::cout).
void add_observability_callbacks(const ObservabilityOptions& options, Model& model,
                                 FitOptions& fit, std::ostream* out = nullptr);

}  // namespace keel
