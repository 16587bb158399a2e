// What EarlyStopping, ReduceLROnPlateau and ModelCheckpoint share: a monitored log value and
// whether smaller or larger is better.
#pragma once

#include <string_view>

namespace keel {

enum class MonitorMode { kAuto, kMin, kMax };

// Keras's "auto": maximise names containing "acc" or "auc" (accuracy, val_accuracy, val_auc),
// minimise everything else (loss, val_loss, mse).
inline bool monitor_maximises(MonitorMode mode, std::string_view monitor) {
  if (mode != MonitorMode::kAuto) return mode == MonitorMode::kMax;
  return monitor.find("acc") != std::string_view::npos || monitor.find("auc") != std::string_view::npos;
}

}  // namespace keel
