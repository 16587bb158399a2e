// Activation: y = activation(x) elementwise (softmax: over the last axis).
//
//   keel::Activation("elu")
//
// With "softmax" the layer exposes its input as the logits, so the loss can use them (Keras
// _keras_logits).
#pragma once

#include <memory>

#include "keel/layers/activation_function.h"
#include "keel/layers/layer.h"

namespace keel {

struct ActivationOptions {
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Activation : public UnaryLayer {
 public:
  explicit Activation(ActivationFunction activation, ActivationOptions options = {});

  std::string class_name() const override { return "Activation"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Activation>(*this); }
  const ActivationFunction& activation() const { return activation_; }

  Shape compute_output_shape(const Shape& input_shape) const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  bool outputs_softmax() const override;
  bool is_relu_activation() const override;
  const float* logits() const override;
  void unary_backward_from_logits(const float* x, const float* dlogits, float* dx, int64_t batch,
                                  Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  int64_t cols() const { return input_shape()[input_shape().rank() - 1]; }

  ActivationFunction activation_;
  std::vector<float> logits_;  // copy of the latest forward's input (softmax only)
};

}  // namespace keel
