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
//
// N-D inputs (keras-semantics-r2.md §2): `axis` is an int or a list; statistics are taken over
// every other axis (an NHWC conv output with axis -1: per channel over N·H·W). One axis gives
// variables of shape (C,); several give Keras's full-rank shape with 1 on the other axes, e.g.
// (1, H, 1, C) for axis [1, 3] on a rank-4 input. Where tf.keras 2.x runs its FUSED kernel (rank 4
// with axis 1 or 3, rank 5 with axis 1 or 4, unless fused=False) keel copies it: epsilon is
// raised to at least 1.001e-5, and the moving variance is fed the UNBIASED batch variance,
// moving = moving·(1-f) + var·n/(n-1)·f with f = 1 - momentum (n values per channel). Everywhere
// else the update is the non-fused one above (biased variance).
//
// synchronized=true (Keras 3 `BatchNormalization(synchronized=True)`, tf.keras 2.x
// `SyncBatchNormalization`): in data-parallel training (docs/distributed.md) the batch statistics
// are those of the GLOBAL batch: each rank's per-channel partial sums are all-reduced in double
// (Σx, then Σ(x-mean)²), and so are the backward's Σdy and Σdy·(x-mean), so every rank normalises,
// updates its moving statistics and back-propagates exactly as one process holding the whole
// batch would. With one process it is the plain layer. Every rank must hold at least one row of
// each batch (fit checks it).
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>

#include "keel/core/tensor.h"
#include "keel/layers/layer.h"

namespace keel {

// Keras `axis`: an int or a list of ints; negative counts from the end; never 0 (the batch axis).
struct BatchNormAxes {
  std::vector<int64_t> values;
  BatchNormAxes(int64_t axis) : values{axis} {}  // NOLINT: implicit, as Keras's int form
  BatchNormAxes(std::initializer_list<int64_t> axes) : values(axes) {}
  explicit BatchNormAxes(std::vector<int64_t> axes) : values(std::move(axes)) {}
};

struct BatchNormalizationOptions {
  BatchNormAxes axis = -1;
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Initializer moving_mean_initializer = "zeros";
  Initializer moving_variance_initializer = "ones";
  // Keras `fused`: unset (None) = the fused kernel wherever tf.keras uses it; false = never.
  // true where the fused kernel cannot run is an error, as in Keras.
  std::optional<bool> fused{};
  // Global-batch statistics across data-parallel ranks (see above).
  bool synchronized = false;
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
  // The normalised (non-negative) axis, or -1 when several are normalised; valid after build.
  int64_t axis() const { return axes_.size() == 1 ? axes_[0] : -1; }
  // Every normalised axis, ascending; valid after build.
  const std::vector<int64_t>& axes() const { return axes_; }
  // Whether the layer copies tf.keras's fused kernel (see above); valid after build.
  bool fused() const { return fused_; }
  // The epsilon the computation uses (Keras's fused path raises it to 1.001e-5).
  float effective_epsilon() const;

  bool synchronized() const { return options_.synchronized; }
  void set_synchronized(bool synchronized) { options_.synchronized = synchronized; }
  bool synchronizes_ranks() const override { return options_.synchronized && trainable(); }

  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  bool fuses_relu_after() const override { return true; }
  // On NHWC inputs normalised over their <= 64 channels (axis -1): the seed CNN's BN -> ReLU ->
  // MaxPooling2D runs as one layer (Context::max_pool_after).
  bool fuses_max_pool_after(const Pool2dGeometry& window) const override;
  // Read the communicator of the call (synchronized only), then run the unary methods below.
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void backward(const Context& ctx, std::span<const TensorRef> x, std::span<const TensorRef> y,
                std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write write) override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
  // tf.keras 2.x's `SyncBatchNormalization` class: this layer with synchronized=true (saved back
  // as BatchNormalization with "synchronized": true, Keras 3's form).
  static std::unique_ptr<Layer> sync_from_config(const nlohmann::json& config);

 protected:
  void on_build() override;

 private:
  static std::unique_ptr<Layer> parse_config(const nlohmann::json& config, const char* class_name);
  int64_t normalized_axis(int64_t axis, int64_t rank) const;
  const Variable* find(int index) const { return index < 0 ? nullptr : &variables()[size_t(index)]; }
  // Non-contiguous axes: x is permuted to (batch, other axes..., normalised axes...) first.
  void permute_in(const float* x, float* xt, int64_t batch) const;
  void permute_out(const float* yt, float* y, int64_t batch) const;
  // ctx.comm when this layer is synchronized and the job has more than one rank, else nullptr.
  const Communicator* sync_comm_of(const Context& ctx) const;
  // mean_, var_ of the global batch from this rank's (outer, channels_, inner_) rows; returns the
  // global number of values per channel.
  int64_t synchronized_stats(const float* x, int64_t outer);
  // Adds this rank's dgamma / dbeta (the model all-reduces parameter gradients) and writes dx
  // (if not null) from the global sums.
  void synchronized_backward(const float* x, const float* dy, const float* gamma, float* dx,
                             float* dgamma, float* dbeta, int64_t outer);
  // y = x·scale_ + shift_ (relu: clamped at 0), or with a fused max pooling its pooled output.
  void apply(const float* x, float* y, int64_t batch, bool relu, Mode mode);
  const float* unpool_gradient(const float* x, const float* dy, float*& dy_full, int64_t batch);

  BatchNormalizationOptions options_;
  std::vector<int64_t> axes_;  // normalised, ascending
  bool fused_ = false;
  // x viewed as (batch·outer_per_sample_, channels_, inner_) (after the permutation if any).
  int64_t channels_ = 0, outer_per_sample_ = 1, inner_ = 1;
  bool permuted_ = false;
  std::vector<int> perm_, inverse_perm_;
  ScratchBuffer xt_, yt_, dxt_;  // permuted x (kept for backward), y / dy, dx
  int gamma_ = -1, beta_ = -1, moving_mean_ = -1, moving_variance_ = -1;  // variable indices
  bool last_forward_training_ = false;
  ScratchBuffer masked_dy_;  // dy through the fused ReLU, where the kernels cannot mask as they read
  // The communicator of the forward / backward call in progress when synchronized over more than
  // one rank; nullptr otherwise (and between calls).
  const Communicator* sync_comm_ = nullptr;
  int64_t sync_count_ = 0;          // global values per channel of the latest synchronized forward
  std::vector<double> sync_sums_;   // all-reduce buffer: 2·channels_ + 1
  // Context::max_pool_after of the call in progress; the winners of the latest training forward
  // with it (on input pooled_x_, batch pooled_batch_); the full-size ReLU output and gradient of
  // the fallback backward (unpool_gradient).
  const Pool2dGeometry* max_pool_after_ = nullptr;
  std::vector<uint8_t> pool_argmax_;
  const float* pooled_x_ = nullptr;
  int64_t pooled_batch_ = 0;
  ScratchBuffer unpooled_y_, unpooled_dy_;
  // Per-channel caches of the latest forward (the statistics it used and its affine form).
  std::vector<float> mean_, var_, inv_std_, scale_, shift_;
};

}  // namespace keel
