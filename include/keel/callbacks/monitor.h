// What EarlyStopping, ReduceLROnPlateau and ModelCheckpoint share: a monitored log value and
// whether smaller or larger is better.
#pragma once

#include <string>
#include <string_view>

namespace keel {

class Logs;

enum class MonitorMode { kAuto, kMin, kMax };

// Keras's "auto": maximise names containing "acc" or "auc" (accuracy, val_accuracy, val_auc),
// minimise everything else (loss, val_loss, mse).
inline bool monitor_maximises(MonitorMode mode, std::string_view monitor) {
  if (mode != MonitorMode::kAuto) return mode == MonitorMode::kMax;
  return monitor.find("acc") != std::string_view::npos || monitor.find("auc") != std::string_view::npos;
}

// Keras logs a warning and carries on when the monitored value is not in an epoch's logs (a typo
// such as "val_los", or "val_loss" without validation data); silence would hide that the callback
// never acts. Both write Keras's text to standard error, every such epoch as Keras does.
// EarlyStopping / ReduceLROnPlateau: "WARNING: <what> conditioned on metric `<monitor>` which is
// not available. Available metrics are: loss,accuracy" (the names in `logs`).
void warn_monitor_missing(std::string_view what, std::string_view monitor, const Logs& logs);
// ModelCheckpoint(save_best_only): "WARNING: Can save best model only with <monitor> available,
// skipping."
void warn_best_model_monitor_missing(std::string_view monitor);

}  // namespace keel
