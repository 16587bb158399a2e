// Callback: Keras training hooks. Logs are ordered (name, value) pairs in the order Keras shows
// them: loss, the compiled metrics, then val_loss and val_<metric>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel {

class Model;
class Checkpoint;

class Logs {
 public:
  void set(std::string_view name, double value);
  std::optional<double> get(std::string_view name) const;
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  void clear() { items_.clear(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What fit() tells callbacks before training (Keras `params`).
struct TrainingParams {
  int64_t epochs = 1;         // the final epoch number (1-based), as Keras `epochs`
  int64_t initial_epoch = 0;  // 0-based epoch to start from
  int64_t steps = 0;          // steps per epoch
  int verbose = 1;
};

class Callback {
 public:
  virtual ~Callback() = default;
  // The model being trained; set by fit() before on_train_begin.
  void set_model(Model* model) { model_ = model; }
  virtual void set_params(const TrainingParams& params) { params_ = params; }

  virtual void on_train_begin(const Logs&) {}
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int64_t /*epoch*/, const Logs&) {}
  virtual void on_epoch_end(int64_t /*epoch*/, const Logs&) {}
  virtual void on_train_batch_begin(int64_t /*batch*/, const Logs&) {}
  virtual void on_train_batch_end(int64_t /*batch*/, const Logs&) {}
  // keel extension: after backward, before clipping and the optimizer step, so the model's
  // gradient views hold this batch's unclipped gradients (per-layer pre-clip norms).
  virtual void on_train_batch_gradients(int64_t /*batch*/) {}
  // evaluate() with these callbacks, and fit's validation pass at the end of each epoch (Keras
  // calls the fit callbacks' test hooks there too). on_test_end gets the final logs (without the
  // "val_" prefix fit adds to the epoch's logs). keel's predict takes no callbacks.
  virtual void on_test_begin(const Logs&) {}
  virtual void on_test_end(const Logs&) {}
  virtual void on_test_batch_begin(int64_t /*batch*/, const Logs&) {}
  virtual void on_test_batch_end(int64_t /*batch*/, const Logs&) {}

  // keel extension: state kept in checkpoints (EarlyStopping's best and wait, ...). A non-empty
  // state_name() ("early_stopping") makes capture_training_state call save_state with the prefix
  // "callback/<state_name>/"; load_state runs when restoring, before fit's on_train_begin, which
  // then must not reset what was restored.
  virtual std::string state_name() const { return {}; }
  virtual void save_state(Checkpoint& /*checkpoint*/, const std::string& /*prefix*/) const {}
  virtual void load_state(const Checkpoint& /*checkpoint*/, const std::string& /*prefix*/) {}

 protected:
  // Whether this process writes (files, event logs, checkpoints): with data-parallel training
  // only rank 0 does, as in Keras; the other ranks run the same hooks on the same logs.
  bool is_chief() const;

  Model* model_ = nullptr;
  TrainingParams params_;
};

}  // namespace keel
