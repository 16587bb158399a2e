// DepthwiseConv2D: one (kh, kw) filter per input channel and depth multiplier, Keras semantics
// (keras-semantics-r2.md §1.3). Output channel c·depth_multiplier + q.
//
//   keel::DepthwiseConv2D(3, {.padding = "same", .depth_multiplier = 2})
//
// Variables (Keras order): depthwise_kernel (kh, kw, C, depth_multiplier), bias
// (C·depth_multiplier) when use_bias. Computed as a grouped convolution (groups = C), whose Keras
// kernel layout is exactly this one.
#pragma once

#include <memory>
#include <string>

#include "keel/layers/activation_function.h"
#include "keel/layers/layer.h"
#include "keel/layers/spatial.h"

namespace keel {

class ConvCore;
struct Conv2dGeometry;

struct DepthwiseConv2DOptions {
  Size2 strides = 1;
  std::string padding = "valid";
  int64_t depth_multiplier = 1;
  std::string data_format = "channels_last";
  Size2 dilation_rate = 1;
  ActivationFunction activation{};
  bool use_bias = true;
  Initializer depthwise_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class DepthwiseConv2D : public UnaryLayer {
 public:
  explicit DepthwiseConv2D(Size2 kernel_size, DepthwiseConv2DOptions options = {});
  DepthwiseConv2D(const DepthwiseConv2D& other);
  DepthwiseConv2D& operator=(const DepthwiseConv2D&) = delete;
  ~DepthwiseConv2D() override;

  std::string class_name() const override { return "DepthwiseConv2D"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<DepthwiseConv2D>(*this);
  }
  const DepthwiseConv2DOptions& options() const { return options_; }
  const Size2& kernel_size() const { return kernel_size_; }
  bool same_padding() const { return same_; }

  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  // A following Activation('relu') can run in the bias + activation pass of a linear layer.
  bool fuses_relu_after() const override { return options_.activation.kind() == ActivationKind::kLinear; }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void on_build() override;

 private:
  Conv2dGeometry geometry(const Shape& input_shape) const;

  Size2 kernel_size_;
  DepthwiseConv2DOptions options_;
  bool same_ = false;
  std::unique_ptr<ConvCore> core_;
};

}  // namespace keel
