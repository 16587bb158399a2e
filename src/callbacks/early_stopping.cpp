#include "keel/callbacks/early_stopping.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/model/sequential.h"

namespace keel {

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  KEEL_CHECK(options_.patience >= 0, "EarlyStopping: patience ", options_.patience, " must be >= 0");
  KEEL_CHECK(std::isfinite(options_.min_delta), "EarlyStopping: min_delta ", options_.min_delta,
             " must be finite");
  maximise_ = monitor_maximises(options_.mode, options_.monitor);
  // Keras: min_delta is a magnitude; its sign follows the mode.
  options_.min_delta = std::abs(options_.min_delta) * (maximise_ ? 1.0 : -1.0);
}

bool EarlyStopping::is_improvement(double current, double reference) const {
  return maximise_ ? current - options_.min_delta > reference : current - options_.min_delta < reference;
}

void EarlyStopping::on_train_begin(const Logs&) {
  if (restored_) return;  // resumed: keep best/wait from the checkpoint
  wait_ = 0;
  stopped_epoch_ = 0;
  best_epoch_ = 0;
  best_ = maximise_ ? -INFINITY : INFINITY;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int64_t epoch, const Logs& logs) {
  const auto current = logs.get(options_.monitor);
  if (!current) {
    warn_monitor_missing("Early stopping", options_.monitor, logs);
    return;
  }
  const auto arena = model_->parameter_arena();
  if (options_.restore_best_weights && best_weights_.empty())
    best_weights_.assign(arena.begin(), arena.end());  // so a run that never improves still restores
  ++wait_;
  if (is_improvement(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_.assign(arena.begin(), arena.end());
    if (!options_.baseline || is_improvement(*current, *options_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model_->stop_training = true;
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  restored_ = false;
  std::ostream& out = options_.out ? *options_.out : std::cout;
  if (stopped_epoch_ > 0 && options_.verbose > 0) out << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
  if (options_.restore_best_weights && !best_weights_.empty()) {
    // Printed whatever the verbosity: silently swapping weights would surprise the user.
    out << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << ".\n";
    const auto arena = model_->parameter_arena();
    std::copy(best_weights_.begin(), best_weights_.end(), arena.begin());
  }
}

void EarlyStopping::save_state(Checkpoint& ck, const std::string& prefix) const {
  ck.put_double(prefix + "best", best_);
  ck.put_int64(prefix + "wait", wait_);
  ck.put_int64(prefix + "best_epoch", best_epoch_);
  ck.put_int64(prefix + "stopped_epoch", stopped_epoch_);
  if (!best_weights_.empty()) ck.put_floats(prefix + "best_weights", best_weights_);
}

void EarlyStopping::load_state(const Checkpoint& ck, const std::string& prefix) {
  best_ = ck.get_double(prefix + "best");
  wait_ = ck.get_int64(prefix + "wait");
  best_epoch_ = ck.get_int64(prefix + "best_epoch");
  stopped_epoch_ = ck.get_int64(prefix + "stopped_epoch");
  best_weights_.clear();
  if (ck.contains(prefix + "best_weights")) best_weights_ = ck.floats(prefix + "best_weights");
  restored_ = true;
}

}  // namespace keel
