#include "keel/layers/batch_normalization.h"

#include <algorithm>

#include "keel/core/error.h"
#include "keel/dist/communicator.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/batch_norm.h"
#include "keel/kernels/permute.h"
#include "layer_config.h"

namespace keel {

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : UnaryLayer("batch_normalization", options.name, options.input_shape), options_(std::move(options)) {
  KEEL_CHECK(options_.momentum >= 0.0 && options_.momentum <= 1.0, "layer '", name(),
             "' (BatchNormalization): momentum ", options_.momentum, " must be in [0, 1]");
  KEEL_CHECK(options_.epsilon > 0.0, "layer '", name(), "' (BatchNormalization): epsilon ",
             options_.epsilon, " must be > 0");
  KEEL_CHECK(!options_.axis.values.empty(), "layer '", name(),
             "' (BatchNormalization): axis is an empty list; expected a feature axis such as -1");
  for (int64_t a : options_.axis.values) {
    KEEL_CHECK(a != 0, "layer '", name(),
               "' (BatchNormalization): axis 0 is the batch axis; expected a feature axis such as -1");
  }
  set_trainable(options_.trainable);
  options_.input_shape.clear();  // kept by the base class
  options_.name.clear();
}

int64_t BatchNormalization::normalized_axis(int64_t axis, int64_t rank) const {
  const int64_t a = axis < 0 ? axis + rank : axis;
  KEEL_CHECK(a >= 1 && a < rank, "layer '", name(), "' (BatchNormalization): axis ", axis,
             " is invalid for an input of rank ", rank, "; expected a feature axis in [1, ", rank - 1,
             "] or [", -(rank - 1), ", -1]");
  return a;
}

float BatchNormalization::effective_epsilon() const {
  // TF nn_impl.fused_batch_norm: epsilon = max(epsilon, 1.001e-5) ("a requirement by CUDNN").
  const double eps = fused_ ? std::max(options_.epsilon, 1.001e-5) : options_.epsilon;
  return static_cast<float>(eps);
}

Shape BatchNormalization::compute_output_shape(const Shape& input_shape) const {
  KEEL_CHECK(input_shape.rank() >= 2, "layer '", name(), "' (BatchNormalization): input shape ",
             input_shape.to_string(), " needs at least (None, features)");
  std::vector<int64_t> seen;
  for (int64_t axis : options_.axis.values) {
    const int64_t a = normalized_axis(axis, input_shape.rank());
    KEEL_CHECK(std::find(seen.begin(), seen.end(), a) == seen.end(), "layer '", name(),
               "' (BatchNormalization): duplicate axis ", a, " in the axis list");
    seen.push_back(a);
    KEEL_CHECK(input_shape[a] > 0, "layer '", name(), "' (BatchNormalization): axis ", axis,
               " of input shape ", input_shape.to_string(), " must have a known size");
  }
  return input_shape;
}

void BatchNormalization::on_build() {
  const Shape& s = input_shape();
  const int64_t rank = s.rank();
  axes_.clear();
  for (int64_t axis : options_.axis.values) axes_.push_back(normalized_axis(axis, rank));
  std::sort(axes_.begin(), axes_.end());
  // Keras 2 _fused_can_be_used / build: one axis given as -4, -3, -1, 1, 3 or 4, and the input
  // rank 4 (axis 1 or 3) or 5 (axis 1 or 4). Rank 4 with another single axis or a list is not
  // fused (Keras raises only when fused=True was asked for).
  const int64_t raw = options_.axis.values.front();
  const bool allowed_raw = options_.axis.values.size() == 1 &&
                           (raw == -4 || raw == -3 || raw == -1 || raw == 1 || raw == 3 || raw == 4);
  const bool fusable = allowed_raw && ((rank == 4 && (axes_[0] == 1 || axes_[0] == 3)) ||
                                       (rank == 5 && (axes_[0] == 1 || axes_[0] == 4)));
  KEEL_CHECK(options_.fused != true || fusable, "layer '", name(),
             "' (BatchNormalization): fused=True needs a rank-4 input with axis 1 or 3 (or rank 5 "
             "with axis 1 or 4); got input shape ", s.to_string());
  fused_ = fusable && options_.fused.value_or(true);
  channels_ = 1;
  for (int64_t a : axes_) channels_ *= s[a];
  permuted_ = axes_.back() - axes_.front() + 1 != static_cast<int64_t>(axes_.size());
  perm_.clear();
  inverse_perm_.clear();
  if (!permuted_) {
    outer_per_sample_ = 1;
    for (int64_t i = 1; i < axes_.front(); ++i) outer_per_sample_ *= s[i];
    inner_ = 1;
    for (int64_t i = axes_.back() + 1; i < rank; ++i) inner_ *= s[i];
  } else {
    // (batch, the other axes in order, the normalised axes in order): then (outer, channels, 1).
    perm_.push_back(0);
    for (int64_t i = 1; i < rank; ++i)
      if (!std::binary_search(axes_.begin(), axes_.end(), i)) perm_.push_back(int(i));
    for (int64_t a : axes_) perm_.push_back(int(a));
    inverse_perm_.assign(perm_.size(), 0);
    for (size_t k = 0; k < perm_.size(); ++k) inverse_perm_[size_t(perm_[k])] = int(k);
    outer_per_sample_ = s.sample_size() / channels_;
    inner_ = 1;
  }
  int next = 0;
  gamma_ = options_.scale ? next++ : -1;
  beta_ = options_.center ? next++ : -1;
  moving_mean_ = next++;
  moving_variance_ = next++;
  for (auto* v : {&mean_, &var_, &inv_std_, &scale_, &shift_}) v->assign(size_t(channels_), 0.0f);
  sync_sums_.clear();  // sized by the first synchronized forward (set_synchronized may come later)
}

void BatchNormalization::permute_in(const float* x, float* xt, int64_t batch) const {
  const Dims d(input_shape(), batch);
  int64_t dims[Dims::kMaxRank];
  for (int i = 0; i < d.rank(); ++i) dims[i] = d[i];
  permute(x, xt, dims, perm_.data(), d.rank());
}

void BatchNormalization::permute_out(const float* yt, float* y, int64_t batch) const {
  const Dims d(input_shape(), batch);
  int64_t dims[Dims::kMaxRank];
  for (int i = 0; i < d.rank(); ++i) dims[i] = d[perm_[size_t(i)]];
  permute(yt, y, dims, inverse_perm_.data(), d.rank());
}

std::vector<VariableSpec> BatchNormalization::variable_specs() const {
  // One axis: (C,). Several: Keras's full-rank shape with 1 on every other axis (batch included).
  std::vector<int64_t> shape{channels_};
  if (axes_.size() > 1) {
    shape.assign(size_t(input_shape().rank()), 1);
    for (int64_t a : axes_) shape[size_t(a)] = input_shape()[a];
  }
  std::vector<VariableSpec> specs;
  if (options_.scale) specs.push_back({"gamma", shape, true, options_.gamma_initializer});
  if (options_.center) specs.push_back({"beta", shape, true, options_.beta_initializer});
  specs.push_back({"moving_mean", shape, false, options_.moving_mean_initializer});
  specs.push_back({"moving_variance", shape, false, options_.moving_variance_initializer});
  return specs;
}

const Communicator* BatchNormalization::sync_comm_of(const Context& ctx) const {
  return options_.synchronized && ctx.comm != nullptr && ctx.comm->size() > 1 ? ctx.comm : nullptr;
}

bool BatchNormalization::fuses_max_pool_after(const Pool2dGeometry& window) const {
  const Shape& in = input_shape();
  return built() && !permuted_ && batch_norm_fuses_max_pool(channels_, inner_) && in.rank() == 4 &&
         axes_.size() == 1 && axes_[0] == 3 && window.in_h == in[1] && window.in_w == in[2] &&
         window.channels == in[3];
}

void BatchNormalization::forward(const Context& ctx, std::span<const TensorRef> x,
                                 std::span<const TensorRef> y) {
  sync_comm_ = sync_comm_of(ctx);
  max_pool_after_ = ctx.max_pool_after;
  UnaryLayer::forward(ctx, x, y);
  sync_comm_ = nullptr;
  max_pool_after_ = nullptr;
}

void BatchNormalization::backward(const Context& ctx, std::span<const TensorRef> x,
                                  std::span<const TensorRef> y, std::span<const TensorRef> dy,
                                  std::span<const TensorRef> dx, Write write) {
  sync_comm_ = sync_comm_of(ctx);
  max_pool_after_ = ctx.max_pool_after;
  UnaryLayer::backward(ctx, x, y, dy, dx, write);
  sync_comm_ = nullptr;
  max_pool_after_ = nullptr;
}

void BatchNormalization::apply(const float* x, float* y, int64_t batch, bool relu, Mode mode) {
  const int64_t outer = batch * outer_per_sample_;
  pooled_x_ = nullptr;
  if (max_pool_after_ == nullptr) {
    return batch_norm_apply(x, scale_.data(), shift_.data(), y, outer, channels_, inner_, relu);
  }
  // The fused MaxPooling2D: y is the pool's output; the training forward records the winners.
  Pool2dGeometry g = *max_pool_after_;
  g.batch = batch;
  uint8_t* winners = nullptr;
  if (mode == Mode::kTraining) {
    const auto n = static_cast<size_t>(g.batch * g.out_h * g.out_w * g.channels);
    if (pool_argmax_.size() < n) pool_argmax_.resize(n);  // grows once per batch size
    winners = pool_argmax_.data();
    pooled_x_ = x, pooled_batch_ = batch;
  }
  max_pool2d_forward_affine_relu(g, x, scale_.data(), shift_.data(), y, winners);
}

// The fused pool's gradient at full size, for the backward paths that cannot expand it chunk by
// chunk (a frozen or synchronized BN, or a backward without a recorded forward): the ReLU's output
// recomputed, the pool's backward into dy_full. Returns that output (the fused ReLU's y).
const float* BatchNormalization::unpool_gradient(const float* x, const float* dy, float*& dy_full,
                                                 int64_t batch) {
  Pool2dGeometry g = *max_pool_after_;
  g.batch = batch;
  const int64_t n = batch * input_shape().sample_size();
  float* y_full = unpooled_y_.ensure(n);
  dy_full = unpooled_dy_.ensure(n);
  batch_norm_apply(x, scale_.data(), shift_.data(), y_full, batch * outer_per_sample_, channels_,
                   inner_, true);
  const bool recorded = pooled_x_ == x && pooled_batch_ == batch;
  max_pool2d_backward(g, y_full, dy, dy_full, recorded ? pool_argmax_.data() : nullptr);
  return y_full;
}

int64_t BatchNormalization::synchronized_stats(const float* x, int64_t outer) {
  sync_sums_.resize(size_t(2 * channels_ + 1));  // allocates on the first call only
  double* sums = sync_sums_.data();  // [0, C): Σx, then the mean; [C]: n; [C+1, 2C+1): Σ(x-mean)²
  double* squares = sums + channels_ + 1;
  batch_norm_partial_sums(x, sums, outer, channels_, inner_);
  sums[channels_] = static_cast<double>(outer * inner_);
  // Σx and n in one message (n is exact in double for any batch keel can hold).
  sync_comm_->all_reduce_sum(std::span<double>(sums, size_t(channels_ + 1)));
  const double n = sums[channels_];
  for (int64_t c = 0; c < channels_; ++c) sums[c] = n > 0 ? sums[c] / n : 0.0;
  batch_norm_partial_squares(x, sums, squares, outer, channels_, inner_);
  sync_comm_->all_reduce_sum(std::span<double>(squares, size_t(channels_)));
  for (int64_t c = 0; c < channels_; ++c) {
    mean_[size_t(c)] = static_cast<float>(sums[c]);
    var_[size_t(c)] = static_cast<float>(n > 0 ? squares[c] / n : 0.0);
  }
  return static_cast<int64_t>(n);
}

void BatchNormalization::synchronized_backward(const float* x, const float* dy, const float* gamma,
                                               float* dx, float* dgamma, float* dbeta,
                                               int64_t outer) {
  double* s1 = sync_sums_.data();  // Σdy
  double* s2 = s1 + channels_;     // Σdy·(x - mean)
  batch_norm_backward_partial_sums(x, dy, mean_.data(), s1, s2, outer, channels_, inner_);
  // This rank's share of dgamma / dbeta, as batch_norm_backward adds them: the training step
  // all-reduces every parameter gradient afterwards.
  for (int64_t c = 0; c < channels_; ++c) {
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(s2[c] * inv_std_[size_t(c)]);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(s1[c]);
  }
  if (dx == nullptr) return;  // the same on every rank (the same graph): no collective skipped
  sync_comm_->all_reduce_sum(std::span<double>(s1, size_t(2 * channels_)));
  batch_norm_backward_dx(x, dy, mean_.data(), inv_std_.data(), gamma, s1, s2,
                         static_cast<double>(sync_count_), dx, outer, channels_, inner_);
}

void BatchNormalization::unary_forward(const float* x, float* y, int64_t batch, Mode mode) {
  const int64_t outer = batch * outer_per_sample_;
  const float* gamma = gamma_ >= 0 ? find(gamma_)->value : nullptr;
  const float* beta = beta_ >= 0 ? find(beta_)->value : nullptr;
  float* moving_mean = find(moving_mean_)->value;
  float* moving_variance = find(moving_variance_)->value;
  const float eps = effective_epsilon();
  last_forward_training_ = mode == Mode::kTraining && trainable();
  float* y_out = y;
  // The fused ReLU (Context::relu_after) goes into the normalisation's pass, except after a
  // permutation (then one more pass over the permuted-back output).
  const bool relu_in_apply = relu_after() && !permuted_;
  if (permuted_) {
    const int64_t n = batch * input_shape().sample_size();
    float* xt = xt_.ensure(n);
    permute_in(x, xt, batch);
    x = xt;
    y = yt_.ensure(n);
  }
  if (last_forward_training_) {
    int64_t count = outer * inner_;  // values per channel behind the statistics
    if (sync_comm_ != nullptr) {
      count = sync_count_ = synchronized_stats(x, outer);
    } else {
      batch_norm_stats(x, mean_.data(), var_.data(), outer, channels_, inner_);
    }
    batch_norm_scale_shift(mean_.data(), var_.data(), gamma, beta, eps, scale_.data(),
                           shift_.data(), inv_std_.data(), channels_);
    apply(x, y, batch, relu_in_apply, mode);
    if (fused_) {
      batch_norm_moving_update_fused(moving_mean, moving_variance, mean_.data(), var_.data(),
                                     options_.momentum, count, channels_);
    } else {
      batch_norm_moving_update(moving_mean, mean_.data(), options_.momentum, channels_);
      batch_norm_moving_update(moving_variance, var_.data(), options_.momentum, channels_);
    }
  } else {
    // Copies, so a later backward sees the statistics this forward used.
    mean_.assign(moving_mean, moving_mean + channels_);
    var_.assign(moving_variance, moving_variance + channels_);
    batch_norm_scale_shift(mean_.data(), var_.data(), gamma, beta, eps, scale_.data(),
                           shift_.data(), inv_std_.data(), channels_);
    apply(x, y, batch, relu_in_apply, mode);
  }
  if (permuted_) permute_out(y, y_out, batch);
  if (relu_after() && !relu_in_apply) {
    activation_forward(ActivationKind::kRelu, y_out, y_out, 1, batch * input_shape().sample_size());
  }
}

void BatchNormalization::unary_backward(const float* x, const float* y, const float* dy, float* dx,
                                        int64_t batch, Write write) {
  const int64_t outer = batch * outer_per_sample_;
  // A fused ReLU: y is its output and dy its gradient. The plain layout's kernel masks dy as it
  // reads it; the other paths (permuted axes, synchronized, frozen) take a masked copy.
  const bool mask_in_kernel = relu_after() && !permuted_ && last_forward_training_ && sync_comm_ == nullptr;
  // A fused max pooling (Context::max_pool_after): dy is the pool's gradient. The row-chunk
  // kernels expand it as they read, from the winners this x's training forward recorded; the
  // other paths get it at full size first.
  FusedMaxPool pool;
  Pool2dGeometry pool_g;
  if (max_pool_after_ != nullptr) {
    const bool recorded = pooled_x_ == x && pooled_batch_ == batch;
    if (mask_in_kernel && recorded) {
      pool_g = *max_pool_after_;
      pool_g.batch = batch;
      pool = {&pool_g, pool_argmax_.data()};
    } else {
      float* dy_full = nullptr;
      y = unpool_gradient(x, dy, dy_full, batch);
      dy = dy_full;
    }
  }
  if (relu_after() && !mask_in_kernel) {
    const int64_t n = batch * input_shape().sample_size();
    float* masked = masked_dy_.ensure(n);
    activation_backward(ActivationKind::kRelu, y, y, dy, masked, 1, n);
    dy = masked;
  }
  const float* gamma = gamma_ >= 0 ? find(gamma_)->value : nullptr;
  float* dgamma = gamma_ >= 0 ? find(gamma_)->grad : nullptr;
  float* dbeta = beta_ >= 0 ? find(beta_)->grad : nullptr;
  if (write == Write::kSet) {
    for (float* g : {dgamma, dbeta})
      if (g != nullptr) std::fill_n(g, channels_, 0.0f);
  }
  float* dx_out = dx;
  if (permuted_) {
    const int64_t n = batch * input_shape().sample_size();
    x = xt_.data();  // the latest forward's permuted input
    float* dyt = yt_.ensure(n);
    permute_in(dy, dyt, batch);
    dy = dyt;
    if (dx != nullptr) dx = dxt_.ensure(n);
  }
  if (last_forward_training_ && sync_comm_ != nullptr) {
    synchronized_backward(x, dy, gamma, dx, dgamma, dbeta, outer);
  } else if (last_forward_training_) {
    batch_norm_backward(x, dy, mean_.data(), inv_std_.data(), gamma, dx, dgamma, dbeta, outer,
                        channels_, inner_,
                        mask_in_kernel ? FusedRelu{y, scale_.data(), shift_.data()} : FusedRelu{},
                        pool);
  } else {
    batch_norm_inference_backward(x, dy, mean_.data(), inv_std_.data(), gamma, dx, dgamma, dbeta,
                                  outer, channels_, inner_);
  }
  if (permuted_ && dx_out != nullptr) permute_out(dx, dx_out, batch);
}

nlohmann::json BatchNormalization::get_config() const {
  nlohmann::json config = base_config();
  // tf.keras 2.x normalises axis in build() and writes the list form: -1 on (None, 784) -> [1];
  // a list keeps its order ([3, 1] stays [3, 1]).
  if (built()) {
    nlohmann::json axes = nlohmann::json::array();
    for (int64_t a : options_.axis.values) axes.push_back(a < 0 ? a + input_shape().rank() : a);
    config["axis"] = axes;
  } else if (options_.axis.values.size() == 1) {
    config["axis"] = options_.axis.values[0];
  } else {
    config["axis"] = options_.axis.values;
  }
  config["momentum"] = options_.momentum;
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = options_.beta_initializer.to_config();
  config["gamma_initializer"] = options_.gamma_initializer.to_config();
  config["moving_mean_initializer"] = options_.moving_mean_initializer.to_config();
  config["moving_variance_initializer"] = options_.moving_variance_initializer.to_config();
  for (const char* key :
       {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"}) {
    config[key] = nullptr;
  }
  // Keras 3 writes the flag; tf.keras 2.12 drops it from get_config (its config of
  // BatchNormalization(synchronized=True) reloads unsynchronized) but accepts it when loading.
  // Written only when set, so the default config stays tf.keras 2.x's byte for byte.
  if (options_.synchronized) config["synchronized"] = true;
  return config;
}

std::unique_ptr<Layer> BatchNormalization::from_config(const nlohmann::json& config) {
  return parse_config(config, "BatchNormalization");
}

std::unique_ptr<Layer> BatchNormalization::sync_from_config(const nlohmann::json& config) {
  auto layer = parse_config(config, "SyncBatchNormalization");
  static_cast<BatchNormalization&>(*layer).options_.synchronized = true;
  return layer;
}

std::unique_ptr<Layer> BatchNormalization::parse_config(const nlohmann::json& config,
                                                        const char* kCls) {
  auto base = layer_config::parse_base(
      config, kCls,
      {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
       "moving_mean_initializer", "moving_variance_initializer", "renorm", "fused",
       "synchronized"},
      {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
       "renorm_clipping", "virtual_batch_size", "adjustment"});
  BatchNormalizationOptions options;
  if (config.contains("axis")) {
    const auto& axis = config["axis"];
    if (axis.is_array()) {
      std::vector<int64_t> axes;
      for (const auto& a : axis) {
        KEEL_CHECK(a.is_number_integer(), kCls, ": axis ", axis.dump(),
                   " must be an integer or a list of integers");
        axes.push_back(a.get<int64_t>());
      }
      options.axis = BatchNormAxes(std::move(axes));
    } else {
      options.axis = layer_config::get_int(config, kCls, "axis", -1);
    }
  }
  // renorm is accepted only at its default (off). fused=false selects the non-fused
  // moving-variance update on 4-D inputs (see the header).
  KEEL_CHECK(!layer_config::get_bool(config, kCls, "renorm", false), kCls,
             ": renorm=true is not supported; expected false");
  options.synchronized = layer_config::get_bool(config, kCls, "synchronized", false);
  if (config.contains("fused") && !config["fused"].is_null()) {
    options.fused = layer_config::get_bool(config, kCls, "fused", false);
  }
  options.momentum = layer_config::get_number(config, kCls, "momentum", 0.99);
  options.epsilon = layer_config::get_number(config, kCls, "epsilon", 1e-3);
  options.center = layer_config::get_bool(config, kCls, "center", true);
  options.scale = layer_config::get_bool(config, kCls, "scale", true);
  auto init = [&](const char* key, Initializer& target) {
    if (config.contains(key)) target = Initializer::from_config(config[key]);
  };
  init("beta_initializer", options.beta_initializer);
  init("gamma_initializer", options.gamma_initializer);
  init("moving_mean_initializer", options.moving_mean_initializer);
  init("moving_variance_initializer", options.moving_variance_initializer);
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<BatchNormalization>(std::move(options));
}

}  // namespace keel
