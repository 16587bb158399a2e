// LearningRateScheduler (Keras): at the start of every epoch, lr = schedule(epoch, lr) with the
// 0-based epoch and the optimizer's current rate.
#pragma once

#include <functional>
#include <iosfwd>

#include "keel/model/callback.h"

namespace keel {

class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int64_t epoch, double lr)>;
  explicit LearningRateScheduler(Schedule schedule, int verbose = 0, std::ostream* out = nullptr);
  void on_epoch_begin(int64_t epoch, const Logs& logs) override;

 private:
  Schedule schedule_;
  int verbose_;
  std::ostream* out_;
};

}  // namespace keel
