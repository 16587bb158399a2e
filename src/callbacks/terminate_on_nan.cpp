#include "keel/callbacks/terminate_on_nan.h"

#include <cmath>
#include <iostream>

#include "keel/model/sequential.h"

namespace keel {

void TerminateOnNaN::on_train_batch_end(int64_t batch, const Logs& logs) {
  const auto loss = logs.get("loss");
  if (!loss || std::isfinite(*loss)) return;
  std::ostream& out = out_ ? *out_ : std::cout;
  out << "\nEpoch " << epoch_ + 1 << ", batch " << batch << ": Invalid loss, terminating training\n";
  terminated_ = true;
  model_->stop_training = true;
}

}  // namespace keel
