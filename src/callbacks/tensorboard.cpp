#include "keel/callbacks/tensorboard.h"

#include <cmath>

#include "keel/core/error.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

namespace {
std::string keras_weight_name(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (c == ':') c = '_';
  return out;
}
}  // namespace

TensorBoard::TensorBoard(std::filesystem::path log_dir, TensorBoardOptions options)
    : log_dir_(std::move(log_dir)), options_(options) {
  KEEL_CHECK(options_.grad_norm_every >= 0, "TensorBoard: grad_norm_every ", options_.grad_norm_every,
             " must be >= 0 (0 disables gradient norms)");
}

TensorBoard::~TensorBoard() = default;

void TensorBoard::on_train_begin(const Logs&) {
  if (!is_chief()) return;  // only rank 0 writes
  train_ = std::make_unique<EventFileWriter>(log_dir_ / "train");
  validation_.reset();  // created when validation logs first appear, as Keras does
  layers_.clear();
  for (int64_t i = 0; i < model_->num_layers(); ++i) {
    LayerGroup g{"grad_norm/" + model_->layer(i).name(), {}};
    for (const Variable& v : model_->layer(i).variables())
      if (v.trainable && v.grad) g.grads.emplace_back(v.grad, v.size());
    if (!g.grads.empty()) layers_.push_back(std::move(g));
  }
  layer_norms_.assign(layers_.size(), 0.0);
  global_step_ = params_.initial_epoch * params_.steps;
  steps_since_write_ = clipped_since_write_ = 0;
}

void TensorBoard::on_train_batch_gradients(int64_t batch) {
  if (!is_chief()) return;  // only rank 0 writes
  const bool write_norms = options_.grad_norm_every > 0 && (global_step_ + 1) % options_.grad_norm_every == 0;
  if (write_norms) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      double sum = 0.0;  // double: no overflow for any finite float gradient
      for (const auto& [g, n] : layers_[l].grads)
        for (int64_t k = 0; k < n; ++k) sum += double{g[k]} * g[k];
      layer_norms_[l] = std::sqrt(sum);
    }
  }
  if (options_.histograms && batch + 1 == params_.steps) {
    const auto grads = model_->gradient_arena();
    last_gradients_.assign(grads.begin(), grads.end());
  }
}

void TensorBoard::on_train_batch_end(int64_t, const Logs&) {
  if (!is_chief()) return;  // only rank 0 writes
  ++global_step_;
  if (options_.grad_norm_every <= 0) return;
  const StepStats& s = model_->last_step();
  ++steps_since_write_;
  clipped_since_write_ += s.clipped ? 1 : 0;
  if (global_step_ % options_.grad_norm_every != 0) return;
  train_->add_scalar("grad_norm/preclip", s.preclip_global_norm, global_step_);
  train_->add_scalar("grad_norm/postclip", s.postclip_global_norm, global_step_);
  train_->add_scalar("grad_norm/clip_fraction",
                     static_cast<double>(clipped_since_write_) / static_cast<double>(steps_since_write_),
                     global_step_);
  for (size_t l = 0; l < layers_.size(); ++l) train_->add_scalar(layers_[l].tag, layer_norms_[l], global_step_);
  steps_since_write_ = clipped_since_write_ = 0;
}

void TensorBoard::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (!is_chief()) return;  // only rank 0 writes
  for (const auto& [name, value] : logs.items()) {
    if (name.rfind("val_", 0) == 0) {
      if (!validation_) validation_ = std::make_unique<EventFileWriter>(log_dir_ / "validation");
      validation_->add_scalar("epoch_" + name.substr(4), value, epoch);
    } else {
      train_->add_scalar("epoch_" + name, value, epoch);
    }
  }
  train_->add_scalar("epoch_learning_rate", model_->optimizer().learning_rate(), epoch);
  if (options_.histograms) {
    for (const Variable* v : model_->variables()) {
      const std::string name = keras_weight_name(v->name);
      train_->add_histogram(name + "/histogram", {v->value, static_cast<size_t>(v->size())}, epoch);
    }
    if (!last_gradients_.empty()) {
      const float* base = model_->gradient_arena().data();
      for (const Variable* v : model_->variables()) {
        if (!v->trainable || !v->grad) continue;
        const float* g = last_gradients_.data() + (v->grad - base);
        train_->add_histogram("gradients/" + keras_weight_name(v->name) + "/histogram",
                              {g, static_cast<size_t>(v->size())}, epoch);
      }
      last_gradients_.clear();
    }
  }
  train_->flush();
  if (validation_) validation_->flush();
}

void TensorBoard::on_train_end(const Logs&) {
  if (!is_chief()) return;  // only rank 0 writes
  if (train_) train_->flush();
  if (validation_) validation_->flush();
}

}  // namespace keel
