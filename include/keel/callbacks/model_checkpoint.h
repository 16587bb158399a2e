// ModelCheckpoint: writes a full training checkpoint (keel/io/checkpoint.h: weights, BN
// statistics, optimizer slots, iterations, learning rate, epoch, step, Dropout RNG, callback
// state) at the end of every epoch, or with save_best_only only when `monitor` improved (Keras:
// strictly better than the best so far, no min_delta). Each write atomically replaces `filepath`,
// so the previous checkpoint stays loadable until the new one is complete.
//
// A checkpoint is never written for an epoch whose loss is NaN or inf (TerminateOnNaN stopped it):
// that would replace the last good state with a diverged one.
//
// Put it last in the callback list: it saves the state other callbacks reached in this epoch.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "keel/model/callback.h"
#include "keel/callbacks/monitor.h"

namespace keel {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  MonitorMode mode = MonitorMode::kAuto;
  int verbose = 0;
  // FitOptions::seed and batch_size, and the number of training samples (0: not known), stored so
  // a resume can check it replays the same batches.
  uint64_t seed = 42;
  int64_t batch_size = 32;
  int64_t train_samples = 0;
  std::ostream* out = nullptr;
};

class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::filesystem::path filepath, ModelCheckpointOptions options = {});

  // Callbacks whose state (state_name()) goes into every checkpoint; this one is always included.
  void track(std::vector<std::shared_ptr<Callback>> callbacks) { tracked_ = std::move(callbacks); }

  void on_train_begin(const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

  std::string state_name() const override { return "model_checkpoint"; }
  void save_state(Checkpoint& checkpoint, const std::string& prefix) const override;
  void load_state(const Checkpoint& checkpoint, const std::string& prefix) override;

  int64_t saves() const { return saves_; }

 private:
  std::filesystem::path filepath_;
  ModelCheckpointOptions options_;
  std::vector<std::shared_ptr<Callback>> tracked_;
  bool maximise_ = false;
  double best_ = 0.0;
  bool restored_ = false;
  int64_t global_step_ = 0, saves_ = 0;
};

}  // namespace keel
