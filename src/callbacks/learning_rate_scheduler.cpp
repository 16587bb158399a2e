#include "keel/callbacks/learning_rate_scheduler.h"

#include <cmath>
#include <iostream>

#include "keel/callbacks/csv_logger.h"
#include "keel/core/error.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

LearningRateScheduler::LearningRateScheduler(Schedule schedule, int verbose, std::ostream* out)
    : schedule_(std::move(schedule)), verbose_(verbose), out_(out) {
  KEEL_CHECK(static_cast<bool>(schedule_), "LearningRateScheduler: schedule is empty");
}

void LearningRateScheduler::on_epoch_begin(int64_t epoch, const Logs&) {
  Optimizer& opt = model_->optimizer();
  const double lr = schedule_(epoch, opt.learning_rate());
  KEEL_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: schedule returned ", lr,
             " for epoch ", epoch, "; expected a finite learning rate >= 0");
  opt.set_learning_rate(lr);
  if (verbose_ > 0) {
    std::ostream& out = out_ ? *out_ : std::cout;
    out << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
        << numpy_float32_repr(static_cast<float>(opt.learning_rate())) << ".\n";
  }
}

}  // namespace keel
