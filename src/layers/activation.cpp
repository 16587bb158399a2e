#include "keel/layers/activation.h"

#include <algorithm>
#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "layer_config.h"

namespace keel {

Activation::Activation(ActivationFunction activation, ActivationOptions options)
    : UnaryLayer("activation", std::move(options.name), std::move(options.input_shape)),
      activation_(activation) {
  set_trainable(options.trainable);
}

Shape Activation::compute_output_shape(const Shape& input_shape) const {
  KEEL_CHECK(input_shape.rank() >= 2, "layer '", name(), "' (Activation): input shape ",
             input_shape.to_string(), " needs at least (None, features)");
  return input_shape;
}

void Activation::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const int64_t n = batch * input_shape().sample_size();
  if (outputs_softmax()) {
    if (static_cast<int64_t>(logits_.size()) < n) logits_.resize(static_cast<size_t>(n));
    std::copy(x, x + n, logits_.begin());
  }
  activation_forward(activation_.kind(), x, y, n / cols(), cols());
}

void Activation::unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                               Write) {
  if (dx == nullptr) return;
  const int64_t n = batch * input_shape().sample_size();
  activation_backward(activation_.kind(), x, y, dy, dx, n / cols(), cols());
}

bool Activation::outputs_softmax() const { return activation_.kind() == ActivationKind::kSoftmax; }

bool Activation::is_relu_activation() const { return activation_.kind() == ActivationKind::kRelu; }

const float* Activation::logits() const { return outputs_softmax() ? logits_.data() : nullptr; }

void Activation::unary_backward_from_logits(const float*, const float* dlogits, float* dx, int64_t batch,
                                           Write) {
  KEEL_CHECK(outputs_softmax(), "layer '", name(), "' (Activation): backward_from_logits needs "
             "softmax, got '", activation_.keras_name(), "'");
  if (dx != nullptr && dx != dlogits) {
    std::memcpy(dx, dlogits, static_cast<size_t>(batch * input_shape().sample_size()) * sizeof(float));
  }
}

nlohmann::json Activation::get_config() const {
  nlohmann::json config = base_config();
  config["activation"] = activation_.keras_name();
  return config;
}

std::unique_ptr<Layer> Activation::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, "Activation", {"activation"});
  KEEL_CHECK(config.contains("activation"), "Activation: config has no 'activation'");
  ActivationOptions options{std::move(base.input_shape), std::move(base.name), base.trainable};
  return std::make_unique<Activation>(
      ActivationFunction(layer_config::get_string(config, "Activation", "activation", "linear")),
      std::move(options));
}

}  // namespace keel
