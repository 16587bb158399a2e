#include "keel/layers/dense.h"

#include <algorithm>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/bf16.h"
#include "keel/kernels/bias.h"
#include "keel/kernels/gemm.h"
#include "layer_config.h"

namespace keel {

Dense::Dense(int64_t units, DenseOptions options)
    : UnaryLayer("dense", options.name, options.input_shape), units_(units), options_(std::move(options)) {
  KEEL_CHECK(units > 0, "layer '", name(), "' (Dense): units ", units, " must be a positive integer");
  set_trainable(options_.trainable);
}

Shape Dense::compute_output_shape(const Shape& input_shape) const {
  KEEL_CHECK(input_shape.rank() >= 2 && input_shape[input_shape.rank() - 1] > 0, "layer '", name(),
             "' (Dense): input shape ", input_shape.to_string(),
             " needs a known last dimension (at least (None, features))");
  std::vector<int64_t> dims = input_shape.dims();
  dims.back() = units_;
  return Shape(std::move(dims));
}

void Dense::on_build() {
  fan_in_ = input_shape()[input_shape().rank() - 1];
  rows_per_sample_ = input_shape().sample_size() / fan_in_;
}

std::vector<VariableSpec> Dense::variable_specs() const {
  std::vector<VariableSpec> specs;
  specs.push_back({"kernel", {fan_in_, units_}, true, options_.kernel_initializer});
  if (options_.use_bias) specs.push_back({"bias", {units_}, true, options_.bias_initializer});
  return specs;
}

ActivationKind Dense::call_activation() const {
  const ActivationKind kind = options_.activation.kind();
  return relu_after() && kind == ActivationKind::kLinear ? ActivationKind::kRelu : kind;
}

void Dense::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const int64_t m = rows(batch);
  const ActivationKind kind = call_activation();
  const float* kernel = variables()[0].value;
  const float* bias = options_.use_bias ? variables()[1].value : nullptr;
  float* z = y;
  if (!backward_needs_only_output(kind)) {
    z = z_.ensure(m * units_);
  }
  if (runs_bf16_products()) {
    forward_bf16(x, z, m);
  } else {
    if (z == y && gemm_bias_activation(x, kernel, bias, y, m, units_, fan_in_, kind)) return;
    gemm(x, kernel, z, m, units_, fan_in_, false, false, false);
  }
  // z == y: bias + activation in place, one pass.
  bias_activation_forward(z, bias, y, m, units_, kind);
}

void Dense::unary_backward(const float*x, const float* y, const float* dy, float* dx, int64_t batch,
                          Write write) {
  const int64_t m = rows(batch);
  const ActivationKind kind = call_activation();
  // Linear: dz is dy itself, so no pass copies it (the plan never gives dx the buffer of dy).
  if (kind == ActivationKind::kLinear) return backward_dz(x, dy, dx, batch, write);
  dz_.ensure(m * units_);
  float* dbias = options_.use_bias ? variables()[1].grad : nullptr;
  if (dbias != nullptr && write == Write::kSet) std::fill_n(dbias, units_, 0.0f);
  // dz and the bias gradient in one pass over dy.
  activation_bias_backward(kind, z_.data(), y, dy, dz_.data(), dbias, m, units_);
  weight_and_input_gradients(x, dz_.data(), dx, batch, write);
}

void Dense::backward_dz(const float* x, const float* dz, float* dx, int64_t batch, Write write) {
  const int64_t m = rows(batch);
  if (options_.use_bias && variables()[1].grad != nullptr) {
    float* dbias = variables()[1].grad;
    if (write == Write::kSet) std::fill_n(dbias, units_, 0.0f);
    bias_backward(dz, dbias, m, units_);
  }
  weight_and_input_gradients(x, dz, dx, batch, write);
}

void Dense::forward_bf16(const float* x, float* z, int64_t m) {
  const float* kernel = variables()[0].value;
  uint16_t* kernel_bf16 = kernel_bf16_.ensure_bf16(fan_in_ * units_);
  to_bf16(kernel, kernel_bf16, fan_in_ * units_);
  uint16_t* x_bf16 = operand_bf16_.ensure_bf16(m * fan_in_);
  to_bf16(x, x_bf16, m * fan_in_);
  gemm_bf16(x_bf16, kernel_bf16, z, m, units_, fan_in_, false, false, false);
}

void Dense::gradients_bf16(const float* x, const float* dz, float* dx, int64_t m, Write write) {
  uint16_t* dz_bf16 = dz_bf16_.ensure_bf16(m * units_);
  to_bf16(dz, dz_bf16, m * units_);
  const Variable& kernel = variables()[0];
  if (kernel.grad != nullptr) {
    // x again rather than the forward's copy: a shared layer's later call overwrote that.
    uint16_t* x_bf16 = operand_bf16_.ensure_bf16(m * fan_in_);
    to_bf16(x, x_bf16, m * fan_in_);
    gemm_bf16(x_bf16, dz_bf16, kernel.grad, fan_in_, units_, m, true, false, write == Write::kAdd);
  }
  if (dx != nullptr) {
    gemm_bf16(dz_bf16, kernel_bf16_.bf16_data(), dx, m, fan_in_, units_, false, true, false);
  }
}

void Dense::weight_and_input_gradients(const float* x, const float* dz, float* dx, int64_t batch,
                                       Write write) {
  const int64_t m = rows(batch);
  if (runs_bf16_products()) return gradients_bf16(x, dz, dx, m, write);
  const Variable& kernel = variables()[0];
  if (kernel.grad != nullptr) {
    gemm(x, dz, kernel.grad, fan_in_, units_, m, true, false, write == Write::kAdd);
  }
  if (dx != nullptr) gemm(dz, kernel.value, dx, m, fan_in_, units_, false, true, false);
}

bool Dense::outputs_softmax() const {
  return options_.activation.kind() == ActivationKind::kSoftmax;
}

const float* Dense::logits() const { return outputs_softmax() ? z_.data() : nullptr; }

void Dense::unary_backward_from_logits(const float* x, const float* dlogits, float* dx, int64_t batch,
                                      Write write) {
  KEEL_CHECK(outputs_softmax(), "layer '", name(), "' (Dense): backward_from_logits needs a softmax "
             "activation, got '", options_.activation.keras_name(), "'");
  backward_dz(x, dlogits, dx, batch, write);
}

nlohmann::json Dense::get_config() const {
  nlohmann::json config = base_config();
  config["units"] = units_;
  config["activation"] = options_.activation.keras_name();
  config["use_bias"] = options_.use_bias;
  config["kernel_initializer"] = options_.kernel_initializer.to_config();
  config["bias_initializer"] = options_.bias_initializer.to_config();
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                          "kernel_constraint", "bias_constraint"}) {
    config[key] = nullptr;
  }
  return config;
}

std::unique_ptr<Layer> Dense::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(
      config, "Dense", {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer"},
      {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
       "bias_constraint"});
  KEEL_CHECK(config.contains("units"), "Dense: config has no 'units'");
  DenseOptions options;
  options.activation = ActivationFunction(layer_config::get_string(config, "Dense", "activation", "linear"));
  options.use_bias = layer_config::get_bool(config, "Dense", "use_bias", true);
  if (config.contains("kernel_initializer")) {
    options.kernel_initializer = Initializer::from_config(config["kernel_initializer"]);
  }
  if (config.contains("bias_initializer")) {
    options.bias_initializer = Initializer::from_config(config["bias_initializer"]);
  }
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<Dense>(layer_config::get_int(config, "Dense", "units", 0), std::move(options));
}

}  // namespace keel
