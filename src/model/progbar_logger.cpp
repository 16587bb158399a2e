#include "keel/model/progbar_logger.h"

namespace keel {

ProgbarLogger::ProgbarLogger(std::ostream& out) : out_(out), dynamic_display_(is_terminal(out)) {}

void ProgbarLogger::on_epoch_begin(int64_t epoch, const Logs&) {
  bar_ = std::make_unique<Progbar>(params_.steps, params_.verbose, out_, dynamic_display_);
  if (params_.verbose && params_.epochs > 1) {
    out_ << "Epoch " << epoch + 1 << "/" << params_.epochs << "\n" << std::flush;
  }
}

void ProgbarLogger::on_train_batch_end(int64_t batch, const Logs& logs) {
  if (bar_ && params_.verbose == 1) bar_->update(batch + 1, logs.items(), /*finalize=*/false);
}

void ProgbarLogger::on_epoch_end(int64_t, const Logs& logs) {
  if (bar_) bar_->update(params_.steps, logs.items(), /*finalize=*/true);
  bar_.reset();
}

}  // namespace keel
