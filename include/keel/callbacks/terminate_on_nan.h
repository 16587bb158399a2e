// TerminateOnNaN: stops training after the first batch whose running loss is NaN or +-inf,
// printing "Epoch E, batch B: Invalid loss, terminating training" (Keras prints
// "Batch B: Invalid loss, terminating training"; keel names the 1-based epoch too).
#pragma once

#include <iosfwd>

#include "keel/model/callback.h"

namespace keel {

class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(std::ostream* out = nullptr) : out_(out) {}
  void on_epoch_begin(int64_t epoch, const Logs&) override { epoch_ = epoch; }
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  bool terminated() const { return terminated_; }

 private:
  std::ostream* out_;
  int64_t epoch_ = 0;
  bool terminated_ = false;
};

}  // namespace keel
