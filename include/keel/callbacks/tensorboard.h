// TensorBoard: event files laid out as tf.keras 2.x writes them, plus gradient norms.
//
//   <log_dir>/train/events.out.tfevents.*       epoch_loss, epoch_<metric>, epoch_learning_rate
//                                               (step = 0-based epoch), per-epoch histograms,
//                                               grad_norm/* every grad_norm_every training steps
//   <log_dir>/validation/events.out.tfevents.*  epoch_loss, epoch_<metric> of the val_ logs
//
// Gradient norms (step = global training step, 1-based, training batches only, trainable
// variables only):
//   grad_norm/preclip, grad_norm/postclip  global L2 norm of the step's gradient before / after
//                                          the optimizer's clipping
//   grad_norm/clip_fraction                fraction of the steps since the previous write that
//                                          clipped
//   grad_norm/<layer>                      the layer's pre-clip gradient norm at that step
// Histograms per epoch (histograms = true): every variable "<name>_0/histogram" as Keras names
// them ("dense/kernel_0/histogram", BN moving_mean and moving_variance included), and the
// pre-clip gradient of the epoch's last batch "gradients/<name>_0/histogram".
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "keel/model/callback.h"
#include "keel/io/event_file.h"

namespace keel {

struct TensorBoardOptions {
  int64_t grad_norm_every = 100;  // training steps between gradient-norm writes; 0 disables
  bool histograms = true;
};

class TensorBoard : public Callback {
 public:
  explicit TensorBoard(std::filesystem::path log_dir, TensorBoardOptions options = {});
  ~TensorBoard() override;

  void on_train_begin(const Logs& logs) override;
  void on_train_batch_gradients(int64_t batch) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const std::filesystem::path& log_dir() const { return log_dir_; }

 private:
  struct LayerGroup {
    std::string tag;                    // "grad_norm/dense"
    std::vector<std::pair<const float*, int64_t>> grads;  // trainable gradient views
  };
  std::filesystem::path log_dir_;
  TensorBoardOptions options_;
  std::unique_ptr<EventFileWriter> train_, validation_;
  std::vector<LayerGroup> layers_;
  std::vector<double> layer_norms_;     // of the step about to be written
  std::vector<float> last_gradients_;   // pre-clip gradient arena of the epoch's last batch
  int64_t global_step_ = 0, steps_since_write_ = 0, clipped_since_write_ = 0;
};

}  // namespace keel
