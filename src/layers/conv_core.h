// Internal: the arithmetic Conv2D and DepthwiseConv2D share (a DepthwiseConv2D is a grouped
// convolution with groups = channels, see keel/kernels/conv.h): convolution, then bias and
// activation in one pass (as Dense), and the matching backward.
#pragma once

#include <string>
#include <string_view>

#include "keel/core/tensor.h"
#include "keel/kernels/activation_kind.h"
#include "keel/kernels/conv.h"
#include "keel/layers/layer.h"
#include "keel/layers/spatial.h"

namespace keel {

// Keras's argument checks shared by Conv2D and DepthwiseConv2D (errors name the layer and class);
// returns whether padding is 'same'.
bool check_conv_args(Size2 kernel, Size2 strides, Size2 dilation, const std::string& padding,
                     const std::string& data_format, std::string_view layer, std::string_view cls);

// The geometry (batch 0) of a convolution over an NHWC input shape (None, H, W, C) with out_c
// output channels; throws naming the layer when the input is not rank 4 or too small for 'valid'.
Conv2dGeometry conv_geometry(const Shape& in, Size2 kernel, Size2 strides, Size2 dilation,
                             bool same, int64_t out_c, int64_t groups, std::string_view layer,
                             std::string_view cls);

class ConvCore {
 public:
  // geometry with batch 0 (set per call)
  void configure(const Conv2dGeometry& geometry, ActivationKind kind);
  const Conv2dGeometry& geometry() const { return g_; }

  // x: (batch, in_h, in_w, in_c); kernel (kh, kw, in_c/groups, out_c); bias (out_c) or nullptr;
  // y: (batch, out_h, out_w, out_c). `bf16`: the convolutions take bf16 inputs (the layer's
  // runs_bf16_products(), mixed_bfloat16); bias, activation and their gradients stay f32.
  // `relu_after`: the plan fused an Activation('relu') after the layer (configured linear): bias
  // and ReLU then go in one pass, and backward masks dy by y.
  void forward(const float* x, const float* kernel, const float* bias, float* y, int64_t batch,
               bool bf16, bool relu_after);
  // dkernel / dbias: nullptr when not trained; dx nullptr when not needed.
  void backward(const float* x, const float* y, const float* dy, const float* kernel, float* dx,
                float* dkernel, float* dbias, int64_t batch, Write write, bool bf16,
                bool relu_after);
  // dlogits: dL/d(pre-softmax) of a softmax activation.
  void backward_from_logits(const float* x, const float* dlogits, const float* kernel, float* dx,
                            float* dkernel, float* dbias, int64_t batch, Write write, bool bf16);
  const float* logits() const { return z_.data(); }

 private:
  Conv2dGeometry at(int64_t batch) const {
    Conv2dGeometry g = g_;
    g.batch = batch;
    return g;
  }
  int64_t rows(int64_t batch) const { return batch * g_.out_h * g_.out_w; }
  ActivationKind kind(bool relu_after) const {
    return relu_after && kind_ == ActivationKind::kLinear ? ActivationKind::kRelu : kind_;
  }
  void weights_and_input(const float* x, const float* dz, const float* kernel, float* dx,
                         float* dkernel, int64_t batch, Write write, bool bf16);

  Conv2dGeometry g_;
  ActivationKind kind_ = ActivationKind::kLinear;
  ScratchBuffer z_;   // pre-activation, for activations whose derivative needs it
  ScratchBuffer dz_;
};

}  // namespace keel
