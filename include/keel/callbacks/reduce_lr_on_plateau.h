// ReduceLROnPlateau with tf.keras 2.x semantics: after `patience` epochs without the monitored
// value improving by more than min_delta (and outside the cooldown), lr = max(lr * factor, min_lr)
// while lr > float32(min_lr), printing
// "Epoch N: ReduceLROnPlateau reducing learning rate to X." (N 1-based).
#pragma once

#include <iosfwd>
#include <string>

#include "keel/model/callback.h"
#include "keel/callbacks/monitor.h"

namespace keel {

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int64_t patience = 10;
  int verbose = 1;
  MonitorMode mode = MonitorMode::kAuto;
  double min_delta = 1e-4;
  int64_t cooldown = 0;
  double min_lr = 0.0;
  std::ostream* out = nullptr;  // nullptr: std::cout
};

class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

  std::string state_name() const override { return "reduce_lr_on_plateau"; }
  void save_state(Checkpoint& checkpoint, const std::string& prefix) const override;
  void load_state(const Checkpoint& checkpoint, const std::string& prefix) override;

  double best() const { return best_; }
  int64_t wait() const { return wait_; }

 private:
  ReduceLROnPlateauOptions options_;
  bool maximise_ = false;
  double best_ = 0.0;
  int64_t wait_ = 0, cooldown_counter_ = 0;
  bool restored_ = false;
};

}  // namespace keel
