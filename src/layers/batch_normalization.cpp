#include "keel/layers/batch_normalization.h"

#include <algorithm>

#include "keel/core/error.h"
#include "keel/kernels/batch_norm.h"
#include "layer_config.h"

namespace keel {

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : UnaryLayer("batch_normalization", options.name, options.input_shape), options_(std::move(options)) {
  KEEL_CHECK(options_.momentum >= 0.0 && options_.momentum <= 1.0, "layer '", name(),
             "' (BatchNormalization): momentum ", options_.momentum, " must be in [0, 1]");
  KEEL_CHECK(options_.epsilon > 0.0, "layer '", name(), "' (BatchNormalization): epsilon ",
             options_.epsilon, " must be > 0");
  KEEL_CHECK(options_.axis != 0, "layer '", name(),
             "' (BatchNormalization): axis 0 is the batch axis; expected a feature axis such as -1");
  set_trainable(options_.trainable);
  options_.input_shape.clear();  // kept by the base class
  options_.name.clear();
}

int64_t BatchNormalization::normalized_axis(int64_t rank) const {
  const int64_t a = options_.axis < 0 ? options_.axis + rank : options_.axis;
  KEEL_CHECK(a >= 1 && a < rank, "layer '", name(), "' (BatchNormalization): axis ", options_.axis,
             " is invalid for an input of rank ", rank, "; expected a feature axis in [1, ", rank - 1,
             "] or [", -(rank - 1), ", -1]");
  return a;
}

Shape BatchNormalization::compute_output_shape(const Shape& input_shape) const {
  KEEL_CHECK(input_shape.rank() >= 2, "layer '", name(), "' (BatchNormalization): input shape ",
             input_shape.to_string(), " needs at least (None, features)");
  const int64_t a = normalized_axis(input_shape.rank());
  KEEL_CHECK(input_shape[a] > 0, "layer '", name(), "' (BatchNormalization): axis ", options_.axis,
             " of input shape ", input_shape.to_string(), " must have a known size");
  return input_shape;
}

void BatchNormalization::on_build() {
  const Shape& s = input_shape();
  axis_ = normalized_axis(s.rank());
  channels_ = s[axis_];
  outer_per_sample_ = 1;
  for (int64_t i = 1; i < axis_; ++i) outer_per_sample_ *= s[i];
  inner_ = 1;
  for (int64_t i = axis_ + 1; i < s.rank(); ++i) inner_ *= s[i];
  int next = 0;
  gamma_ = options_.scale ? next++ : -1;
  beta_ = options_.center ? next++ : -1;
  moving_mean_ = next++;
  moving_variance_ = next++;
  for (auto* v : {&mean_, &var_, &inv_std_, &scale_, &shift_}) v->assign(size_t(channels_), 0.0f);
}

std::vector<VariableSpec> BatchNormalization::variable_specs() const {
  const std::vector<int64_t> shape{channels_};
  std::vector<VariableSpec> specs;
  if (options_.scale) specs.push_back({"gamma", shape, true, options_.gamma_initializer});
  if (options_.center) specs.push_back({"beta", shape, true, options_.beta_initializer});
  specs.push_back({"moving_mean", shape, false, options_.moving_mean_initializer});
  specs.push_back({"moving_variance", shape, false, options_.moving_variance_initializer});
  return specs;
}

void BatchNormalization::unary_forward(const float* x, float* y, int64_t batch, Mode mode) {
  const int64_t outer = batch * outer_per_sample_;
  const float* gamma = gamma_ >= 0 ? find(gamma_)->value : nullptr;
  const float* beta = beta_ >= 0 ? find(beta_)->value : nullptr;
  float* moving_mean = find(moving_mean_)->value;
  float* moving_variance = find(moving_variance_)->value;
  const auto eps = static_cast<float>(options_.epsilon);
  last_forward_training_ = mode == Mode::kTraining && trainable();
  if (last_forward_training_) {
    batch_norm_stats(x, mean_.data(), var_.data(), outer, channels_, inner_);
    batch_norm_scale_shift(mean_.data(), var_.data(), gamma, beta, eps, scale_.data(),
                           shift_.data(), inv_std_.data(), channels_);
    batch_norm_apply(x, scale_.data(), shift_.data(), y, outer, channels_, inner_);
    batch_norm_moving_update(moving_mean, mean_.data(), options_.momentum, channels_);
    batch_norm_moving_update(moving_variance, var_.data(), options_.momentum, channels_);
  } else {
    // Copies, so a later backward sees the statistics this forward used.
    mean_.assign(moving_mean, moving_mean + channels_);
    var_.assign(moving_variance, moving_variance + channels_);
    batch_norm_scale_shift(mean_.data(), var_.data(), gamma, beta, eps, scale_.data(),
                           shift_.data(), inv_std_.data(), channels_);
    batch_norm_apply(x, scale_.data(), shift_.data(), y, outer, channels_, inner_);
  }
}

void BatchNormalization::unary_backward(const float* x, const float*, const float* dy, float* dx,
                                  int64_t batch,
                                       Write write) {
  const int64_t outer = batch * outer_per_sample_;
  const float* gamma = gamma_ >= 0 ? find(gamma_)->value : nullptr;
  float* dgamma = gamma_ >= 0 ? find(gamma_)->grad : nullptr;
  float* dbeta = beta_ >= 0 ? find(beta_)->grad : nullptr;
  if (write == Write::kSet) {
    for (float* g : {dgamma, dbeta})
      if (g != nullptr) std::fill_n(g, channels_, 0.0f);
  }
  if (last_forward_training_) {
    batch_norm_backward(x, dy, mean_.data(), inv_std_.data(), gamma, dx, dgamma, dbeta, outer,
                        channels_, inner_);
  } else {
    batch_norm_inference_backward(x, dy, mean_.data(), inv_std_.data(), gamma, dx, dgamma, dbeta,
                                  outer, channels_, inner_);
  }
}

nlohmann::json BatchNormalization::get_config() const {
  nlohmann::json config = base_config();
  // tf.keras 2.x normalises axis in build() and writes the list form: -1 on (None, 784) -> [1].
  config["axis"] = built() ? nlohmann::json::array({axis_}) : nlohmann::json(options_.axis);
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
  return config;
}

std::unique_ptr<Layer> BatchNormalization::from_config(const nlohmann::json& config) {
  constexpr const char* kCls = "BatchNormalization";
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
      KEEL_CHECK(axis.size() == 1 && axis[0].is_number_integer(), kCls, ": axis ", axis.dump(),
                 " is not supported; expected a single integer axis");
      options.axis = axis[0].get<int64_t>();
    } else {
      options.axis = layer_config::get_int(config, kCls, "axis", -1);
    }
  }
  // Accepted only at their default (off): renorm, synchronized; fused is a speed hint.
  KEEL_CHECK(!layer_config::get_bool(config, kCls, "renorm", false), kCls,
             ": renorm=true is not supported; expected false");
  KEEL_CHECK(!layer_config::get_bool(config, kCls, "synchronized", false), kCls,
             ": synchronized=true is not supported; expected false");
  if (config.contains("fused") && !config["fused"].is_null()) {
    layer_config::get_bool(config, kCls, "fused", false);  // type check only
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
