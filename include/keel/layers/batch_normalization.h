// BatchNormalization with tf.keras 2.x semantics (keras-semantics.md §1).
//
//   keel::BatchNormalization()                 keel::BatchNormalization({.momentum = 0.9})
//
// Variables (Keras order): gamma (if scale), beta (if center) — trainable; moving_mean,
// moving_variance — never trainable. All of shape (C,), C = input_shape[axis].
//
// Training mode (Mode::kTraining AND trainable()): per-channel batch mean and BIASED variance over
// every axis but `axis`; y = x*inv + (beta - mean*inv), inv = gamma*rsqrt(var + epsilon) in float;
// then moving -= (moving - batch_stat)*(1 - momentum) for both statistics, once per forward.
// Inference mode, or trainable() == false (Keras TF2 behaviour: a frozen BN always runs in
// inference mode, also inside fit): the same formula with the moving statistics; nothing changes.
// A training batch of ONE sample is accepted, as in Keras (PyTorch raises): the batch variance is 0,
// so the output is beta and the moving variance decays towards 0.
#pragma once

#include <memory>

#include "keel/layers/layer.h"

namespace keel {

struct BatchNormalizationOptions {
  int64_t axis = -1;  // negative counts from the end; never 0 (the batch axis)
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Initializer moving_mean_initializer = "zeros";
  Initializer moving_variance_initializer = "ones";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class BatchNormalization : public UnaryLayer {
 public:
  explicit BatchNormalization(BatchNormalizationOptions options = {});

  std::string class_name() const override { return "BatchNormalization"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BatchNormalization>(*this); }
  const BatchNormalizationOptions& options() const { return options_; }
  // The normalised (non-negative) axis; valid after build.
  int64_t axis() const { return axis_; }

  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void on_build() override;

 private:
  int64_t normalized_axis(int64_t rank) const;
  const Variable* find(int index) const { return index < 0 ? nullptr : &variables()[size_t(index)]; }

  BatchNormalizationOptions options_;
  int64_t axis_ = -1;
  // x viewed as (batch·outer_per_sample_, channels_, inner_).
  int64_t channels_ = 0, outer_per_sample_ = 1, inner_ = 1;
  int gamma_ = -1, beta_ = -1, moving_mean_ = -1, moving_variance_ = -1;  // variable indices
  bool last_forward_training_ = false;
  // Per-channel caches of the latest forward (the statistics it used and its affine form).
  std::vector<float> mean_, var_, inv_std_, scale_, shift_;
};

}  // namespace keel
