// Dense: y = activation(x·kernel + bias), Keras semantics. Applied to the last axis, so a
// (None, a, fan_in) input gives (None, a, units), as in Keras.
//
//   keel::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"})
//
// Variables (Keras order): kernel (fan_in, units), bias (units) when use_bias.
// With a softmax activation the layer exposes its logits (x·kernel + bias) so the loss can use them.
#pragma once

#include <memory>

#include "keel/core/tensor.h"
#include "keel/layers/activation_function.h"
#include "keel/layers/layer.h"

namespace keel {

struct DenseOptions {
  ActivationFunction activation{};  // Keras activation=None: linear
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Dense : public UnaryLayer {
 public:
  explicit Dense(int64_t units, DenseOptions options = {});

  std::string class_name() const override { return "Dense"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dense>(*this); }
  int64_t units() const { return units_; }
  const ActivationFunction& activation() const { return options_.activation; }

  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  // A following Activation('relu') can run in the bias + activation pass of a linear layer.
  bool fuses_relu_after() const override { return options_.activation.kind() == ActivationKind::kLinear; }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  bool outputs_softmax() const override;
  const float* logits() const override;
  void unary_backward_from_logits(const float* x, const float* dlogits, float* dx, int64_t batch,
                                  Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void on_build() override;

 private:
  // The activation a call computes: its own, or a ReLU the plan fused into a linear Dense.
  ActivationKind call_activation() const;
  // Rows of the GEMM for a batch: batch × the product of the dims between batch and the last.
  int64_t rows(int64_t batch) const { return batch * rows_per_sample_; }
  void backward_dz(const float* x, const float* dz, float* dx, int64_t batch, Write write);
  void weight_and_input_gradients(const float* x, const float* dz, float* dx, int64_t batch,
                                  Write write);

  // mixed_bfloat16 on a machine with bf16 kernels: the three products take bf16 operands.
  void forward_bf16(const float* x, float* z, int64_t m);
  void gradients_bf16(const float* x, const float* dz, float* dx, int64_t m, Write write);

  int64_t units_;
  DenseOptions options_;
  int64_t fan_in_ = 0, rows_per_sample_ = 1;
  ScratchBuffer kernel_bf16_;   // the kernel, cast by every forward; the backward of the same
                                // step reuses it (weights only change between steps)
  ScratchBuffer operand_bf16_;  // x (forward, dW) or dz (dx), cast for the product at hand
  ScratchBuffer dz_bf16_;
  ScratchBuffer z_;   // pre-activation of the latest forward, for activations whose
                      // derivative needs it (relu family, softplus, gelu, swish, softmax)
  ScratchBuffer dz_;  // gradient w.r.t. z
};

}  // namespace keel
