// EarlyStopping with tf.keras 2.11+ semantics:
//  * improvement: current - min_delta < best (min mode; current + min_delta > best in max mode),
//    best starts at +-inf; `wait` counts epochs since the last improvement and is only reset when
//    the value also beats `baseline` (if set);
//  * stops once wait >= patience (never after the first epoch);
//  * restore_best_weights: the whole parameter arena (weights and BN statistics) of the best epoch
//    is restored when training ends for any reason (stopped, last epoch, TerminateOnNaN), with
//    "Restoring model weights from the end of the best epoch: N." (N 1-based, as Keras prints).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "keel/model/callback.h"
#include "keel/callbacks/monitor.h"

namespace keel {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int64_t patience = 0;
  int verbose = 0;
  MonitorMode mode = MonitorMode::kAuto;
  std::optional<double> baseline{};
  bool restore_best_weights = false;
  std::ostream* out = nullptr;  // messages; nullptr: std::cout
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  std::string state_name() const override { return "early_stopping"; }
  void save_state(Checkpoint& checkpoint, const std::string& prefix) const override;
  void load_state(const Checkpoint& checkpoint, const std::string& prefix) override;

  int64_t stopped_epoch() const { return stopped_epoch_; }  // 0-based; 0 when it did not stop
  int64_t best_epoch() const { return best_epoch_; }        // 0-based
  double best() const { return best_; }
  int64_t wait() const { return wait_; }

 private:
  bool is_improvement(double current, double reference) const;
  EarlyStoppingOptions options_;
  bool maximise_ = false;
  double best_ = 0.0;
  int64_t wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  std::vector<float> best_weights_;
  bool restored_ = false;
};

}  // namespace keel
