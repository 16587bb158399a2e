// ProgbarLogger: the callback fit() adds when verbose > 0 (keras.callbacks.ProgbarLogger with
// count_mode="steps"): "Epoch i/N" (only when N > 1), then a Progbar per epoch whose final line
// also carries the validation values.
#pragma once

#include <memory>
#include <ostream>

#include "keel/model/callback.h"
#include "keel/model/progbar.h"

namespace keel {

class ProgbarLogger : public Callback {
 public:
  explicit ProgbarLogger(std::ostream& out);
  void on_epoch_begin(int64_t epoch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

 private:
  std::ostream& out_;
  bool dynamic_display_;
  std::unique_ptr<Progbar> bar_;
};

}  // namespace keel
