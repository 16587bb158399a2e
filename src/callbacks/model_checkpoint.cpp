#include "keel/callbacks/model_checkpoint.h"

#include <cmath>
#include <iostream>

#include "keel/callbacks/csv_logger.h"
#include "keel/io/checkpoint.h"
#include "keel/model/sequential.h"

namespace keel {

namespace {
// Adapts a raw `this` to the shared_ptr list capture_training_state takes, without ownership.
std::shared_ptr<Callback> unowned(Callback* cb) { return {cb, [](Callback*) {}}; }
}  // namespace

ModelCheckpoint::ModelCheckpoint(std::filesystem::path filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), options_(std::move(options)) {
  maximise_ = monitor_maximises(options_.mode, options_.monitor);
  best_ = maximise_ ? -INFINITY : INFINITY;
}

void ModelCheckpoint::on_train_begin(const Logs&) {
  global_step_ = params_.initial_epoch * params_.steps;
  if (!restored_) best_ = maximise_ ? -INFINITY : INFINITY;
  restored_ = false;
}

void ModelCheckpoint::on_train_batch_end(int64_t, const Logs&) { ++global_step_; }

void ModelCheckpoint::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (!is_chief()) return;  // only rank 0 writes
  const auto loss = logs.get("loss");
  if (loss && !std::isfinite(*loss)) return;
  std::ostream& out = options_.out ? *options_.out : std::cout;
  if (options_.save_best_only) {
    const auto current = logs.get(options_.monitor);
    if (!current) {
      warn_best_model_monitor_missing(options_.monitor);
      return;
    }
    const bool better = maximise_ ? *current > best_ : *current < best_;
    if (!better) {
      if (options_.verbose > 0)
        out << "\nEpoch " << epoch + 1 << ": " << options_.monitor << " did not improve from "
            << python_float_repr(best_) << "\n";
      return;
    }
    if (options_.verbose > 0)
      out << "\nEpoch " << epoch + 1 << ": " << options_.monitor << " improved from "
          << python_float_repr(best_) << " to " << python_float_repr(*current) << ", saving model to "
          << filepath_.string() << "\n";
    best_ = *current;
  } else if (options_.verbose > 0) {
    out << "\nEpoch " << epoch + 1 << ": saving model to " << filepath_.string() << "\n";
  }
  std::vector<std::shared_ptr<Callback>> callbacks = tracked_;
  callbacks.push_back(unowned(this));
  const TrainingProgress progress{epoch + 1, global_step_, options_.seed, options_.batch_size,
                                  options_.train_samples};
  capture_training_state(*model_, progress, callbacks).save(filepath_);
  ++saves_;
}

void ModelCheckpoint::save_state(Checkpoint& ck, const std::string& prefix) const {
  ck.put_double(prefix + "best", best_);
}

void ModelCheckpoint::load_state(const Checkpoint& ck, const std::string& prefix) {
  best_ = ck.get_double(prefix + "best");
  restored_ = true;
}

}  // namespace keel
