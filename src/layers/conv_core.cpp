#include "conv_core.h"

#include <algorithm>

#include "keel/core/error.h"
#include "keel/kernels/bias.h"
#include "spatial_config.h"

namespace keel {

bool check_conv_args(Size2 kernel, Size2 strides, Size2 dilation, const std::string& padding,
                     const std::string& data_format, std::string_view layer, std::string_view cls) {
  spatial_config::check_positive(kernel, "kernel_size", layer, cls);
  spatial_config::check_positive(strides, "strides", layer, cls);
  spatial_config::check_positive(dilation, "dilation_rate", layer, cls);
  spatial_config::check_data_format(data_format, layer, cls);
  const bool strided = strides.h > 1 || strides.w > 1;
  const bool dilated = dilation.h > 1 || dilation.w > 1;
  // TF nn_ops._get_strides_and_dilation_rate's message, as Keras raises it.
  KEEL_CHECK(!(strided && dilated), "layer '", layer, "' (", cls,
             "): strides > 1 not supported in conjunction with dilation_rate > 1; got strides (",
             strides.h, ", ", strides.w, "), dilation_rate (", dilation.h, ", ", dilation.w, ")");
  return spatial_config::parse_padding(padding, layer, cls);
}

Conv2dGeometry conv_geometry(const Shape& in, Size2 kernel, Size2 strides, Size2 dilation,
                             bool same, int64_t out_c, int64_t groups, std::string_view layer,
                             std::string_view cls) {
  KEEL_CHECK(in.rank() == 4, "layer '", layer, "' (", cls, "): input shape ", in.to_string(),
             " is not supported; expected (None, height, width, channels)");
  const Axis1d h = conv_axis(in[1], kernel.h, same, strides.h, dilation.h);
  const Axis1d w = conv_axis(in[2], kernel.w, same, strides.w, dilation.w);
  KEEL_CHECK(h.out > 0 && w.out > 0, "layer '", layer, "' (", cls, "): input shape ",
             in.to_string(), " is smaller than the dilated kernel with padding 'valid'");
  Conv2dGeometry g;
  g.in_h = in[1], g.in_w = in[2], g.in_c = in[3];
  g.out_h = h.out, g.out_w = w.out, g.out_c = out_c;
  g.kernel_h = kernel.h, g.kernel_w = kernel.w;
  g.stride_h = strides.h, g.stride_w = strides.w;
  g.dilation_h = dilation.h, g.dilation_w = dilation.w;
  g.pad_top = h.pad.before, g.pad_bottom = h.pad.after;
  g.pad_left = w.pad.before, g.pad_right = w.pad.after;
  g.groups = groups;
  return g;
}

void ConvCore::configure(const Conv2dGeometry& geometry, ActivationKind kind) {
  g_ = geometry;
  kind_ = kind;
}

void ConvCore::forward(const float* x, const float* kernel, const float* bias, float* y,
                       int64_t batch, bool bf16, bool relu_after) {
  const ActivationKind act = kind(relu_after);
  float* z = backward_needs_only_output(act) ? y : z_.ensure(rows(batch) * g_.out_c);
  if (bf16) conv2d_forward_bf16(at(batch), x, kernel, z);
  else conv2d_forward(at(batch), x, kernel, z);
  if (bias == nullptr && act == ActivationKind::kLinear) return;
  bias_activation_forward(z, bias, y, rows(batch), g_.out_c, act);
}

void ConvCore::backward(const float* x, const float* y, const float* dy, const float* kernel,
                        float* dx, float* dkernel, float* dbias, int64_t batch, Write write,
                        bool bf16, bool relu_after) {
  const ActivationKind act = kind(relu_after);
  // Linear: dz is dy itself, so no pass copies it (the plan never gives dx the buffer of dy).
  if (act == ActivationKind::kLinear)
    return backward_from_logits(x, dy, kernel, dx, dkernel, dbias, batch, write, bf16);
  const int64_t m = rows(batch);
  float* dz = dz_.ensure(m * g_.out_c);
  if (dbias != nullptr && write == Write::kSet) std::fill_n(dbias, g_.out_c, 0.0f);
  activation_bias_backward(act, z_.data(), y, dy, dz, dbias, m, g_.out_c);
  weights_and_input(x, dz, kernel, dx, dkernel, batch, write, bf16);
}

void ConvCore::backward_from_logits(const float* x, const float* dlogits, const float* kernel,
                                    float* dx, float* dkernel, float* dbias, int64_t batch,
                                    Write write, bool bf16) {
  if (dbias != nullptr) {
    if (write == Write::kSet) std::fill_n(dbias, g_.out_c, 0.0f);
    bias_backward(dlogits, dbias, rows(batch), g_.out_c);
  }
  weights_and_input(x, dlogits, kernel, dx, dkernel, batch, write, bf16);
}

void ConvCore::weights_and_input(const float* x, const float* dz, const float* kernel, float* dx,
                                 float* dkernel, int64_t batch, Write write, bool bf16) {
  const bool add = write == Write::kAdd;
  if (bf16) {
    if (dkernel != nullptr) conv2d_backward_weights_bf16(at(batch), x, dz, dkernel, add);
    if (dx != nullptr) conv2d_backward_data_bf16(at(batch), dz, kernel, dx);
    return;
  }
  if (dkernel != nullptr) conv2d_backward_weights(at(batch), x, dz, dkernel, add);
  if (dx != nullptr) conv2d_backward_data(at(batch), dz, kernel, dx);
}

}  // namespace keel
