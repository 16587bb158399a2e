#include "keel/callbacks/reduce_lr_on_plateau.h"

#include <cmath>
#include <iostream>

#include "keel/callbacks/csv_logger.h"
#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : options_(std::move(options)) {
  KEEL_CHECK(options_.factor < 1.0 && options_.factor > 0.0, "ReduceLROnPlateau: factor ",
             options_.factor, " is not allowed; expected 0 < factor < 1");
  KEEL_CHECK(options_.patience >= 0, "ReduceLROnPlateau: patience ", options_.patience, " must be >= 0");
  KEEL_CHECK(options_.cooldown >= 0, "ReduceLROnPlateau: cooldown ", options_.cooldown, " must be >= 0");
  KEEL_CHECK(options_.min_lr >= 0.0, "ReduceLROnPlateau: min_lr ", options_.min_lr, " must be >= 0");
  maximise_ = monitor_maximises(options_.mode, options_.monitor);
}

void ReduceLROnPlateau::on_train_begin(const Logs&) {
  if (restored_) return;
  best_ = maximise_ ? -INFINITY : INFINITY;
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(int64_t epoch, const Logs& logs) {
  restored_ = false;
  const auto current = logs.get(options_.monitor);
  if (!current) {
    warn_monitor_missing("Learning rate reduction is", options_.monitor, logs);
    return;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  const bool better = maximise_ ? *current > best_ + options_.min_delta : *current < best_ - options_.min_delta;
  if (better) {
    best_ = *current;
    wait_ = 0;
  } else if (cooldown_counter_ <= 0) {
    if (++wait_ >= options_.patience) {
      Optimizer& opt = model_->optimizer();
      const double old_lr = opt.learning_rate();
      if (old_lr > static_cast<double>(static_cast<float>(options_.min_lr))) {
        const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
        opt.set_learning_rate(new_lr);
        if (options_.verbose > 0) {
          std::ostream& out = options_.out ? *options_.out : std::cout;
          out << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
              << numpy_float32_repr(static_cast<float>(opt.learning_rate())) << ".\n";
        }
        cooldown_counter_ = options_.cooldown;
        wait_ = 0;
      }
    }
  }
}

void ReduceLROnPlateau::save_state(Checkpoint& ck, const std::string& prefix) const {
  ck.put_double(prefix + "best", best_);
  ck.put_int64(prefix + "wait", wait_);
  ck.put_int64(prefix + "cooldown_counter", cooldown_counter_);
}

void ReduceLROnPlateau::load_state(const Checkpoint& ck, const std::string& prefix) {
  best_ = ck.get_double(prefix + "best");
  wait_ = ck.get_int64(prefix + "wait");
  cooldown_counter_ = ck.get_int64(prefix + "cooldown_counter");
  restored_ = true;
}

}  // namespace keel
