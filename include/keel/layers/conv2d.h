// Conv2D: 2-D convolution over NHWC inputs, Keras semantics (keras-semantics-r2.md §1.1).
//
//   keel::Conv2D(32, 3, {.padding = "same", .use_bias = false, .kernel_initializer = "he_normal"})
//
// Input (None, H, W, C); output (None, H', W', filters) with H' = ceil(H/s) for 'same' (TF's
// padding rule: the odd pixel goes to the bottom / right) or ceil((H - dk + 1)/s) for 'valid',
// dk = k + (k-1)(d-1). Variables (Keras order): kernel (kh, kw, C/groups, filters), bias (filters)
// when use_bias. strides > 1 together with dilation_rate > 1 is an error, as in Keras.
#pragma once

#include <memory>
#include <string>

#include "keel/layers/activation_function.h"
#include "keel/layers/layer.h"
#include "keel/layers/spatial.h"

namespace keel {

class ConvCore;
struct Conv2dGeometry;

struct Conv2DOptions {
  Size2 strides = 1;
  std::string padding = "valid";  // "valid" or "same" (case-insensitive, as Keras)
  std::string data_format = "channels_last";
  Size2 dilation_rate = 1;
  int64_t groups = 1;
  ActivationFunction activation{};
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Conv2D : public UnaryLayer {
 public:
  Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options = {});
  Conv2D(const Conv2D& other);
  Conv2D& operator=(const Conv2D&) = delete;
  ~Conv2D() override;

  std::string class_name() const override { return "Conv2D"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2D>(*this); }
  int64_t filters() const { return filters_; }
  const Size2& kernel_size() const { return kernel_size_; }
  const Conv2DOptions& options() const { return options_; }
  bool same_padding() const { return same_; }
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
  Conv2dGeometry geometry(const Shape& input_shape) const;

  int64_t filters_;
  Size2 kernel_size_;
  Conv2DOptions options_;
  bool same_ = false;
  std::unique_ptr<ConvCore> core_;
};

}  // namespace keel
