// 2-D convolution on NHWC tensors with Keras's HWIO kernels, through oneDNN (forward, backward
// data, backward weights), plus TensorFlow's output-size and 'same' padding rule.
//
// Keras semantics (keras-semantics-r2.md §1.1): cross-correlation (no kernel flip),
//   y[n,i,j,o] = Σ_{di,dj,c} xpad[n, i*sh + di*dh, j*sw + dj*dw, g(o)*cin_g + c] · K[di,dj,c,o]
// with g(o) = o / (cout/groups) and xpad x padded by (pad_top, pad_left) before and whatever the
// output size needs after (TF puts the odd pixel of 'same' padding after: bottom / right).
// A DepthwiseConv2D kernel (kh, kw, cin, depth_multiplier) is exactly a Conv2D kernel with
// groups = cin and cout = cin·depth_multiplier (output channel c·dm + q), so it uses these too.
//
// oneDNN primitives are created once per (geometry, thread count) and cached per calling thread,
// as the GEMM path does (gemm.h), with the scratchpad owned by the cache entry, so a steady-state
// call allocates nothing in keel. The kernel is reordered into oneDNN's preferred blocked layout on
// every call (weights are small next to activations).
#pragma once

#include <cstdint>

namespace keel {

struct Conv2dGeometry {
  int64_t batch = 0;
  int64_t in_h = 0, in_w = 0, in_c = 0;
  int64_t out_h = 0, out_w = 0, out_c = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t groups = 1;
  bool operator==(const Conv2dGeometry&) const = default;
};

// Keras conv_utils.conv_output_length for padding 'valid' / 'same' (same = true).
int64_t conv_output_length(int64_t n, int64_t k, bool same, int64_t stride, int64_t dilation);
// TensorFlow's SAME padding (kernel_shape_util.cc): total = max(0, (out-1)*s + dk - n),
// before = total/2, after = total - before (the odd pixel goes after: bottom / right).
struct Padding1d {
  int64_t before, after;
};
Padding1d same_padding(int64_t n, int64_t k, int64_t stride, int64_t dilation);

// One spatial axis's geometry for padding 'valid' (no padding; rows the last stride cannot reach
// are ignored) or 'same' (TF's rule above).
struct Axis1d {
  int64_t out;
  Padding1d pad;
};
Axis1d conv_axis(int64_t n, int64_t k, bool same, int64_t stride, int64_t dilation);

// x: (batch, in_h, in_w, in_c)
// kernel: (kernel_h, kernel_w, in_c/groups, out_c)
// y: (batch, out_h, out_w, out_c) written
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* kernel, float* y);
void conv2d_forward_ref(const Conv2dGeometry& g, const float* x, const float* kernel, float* y);

// dy: (batch, out_h, out_w, out_c), kernel as above; dx: (batch, in_h, in_w, in_c) written
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* kernel,
                          float* dx);
void conv2d_backward_data_ref(const Conv2dGeometry& g, const float* dy, const float* kernel,
                              float* dx);

// x, dy as above; dkernel: (kernel_h, kernel_w, in_c/groups, out_c) written, or added into when
// `accumulate`.
void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                             float* dkernel, bool accumulate);
void conv2d_backward_weights_ref(const Conv2dGeometry& g, const float* x, const float* dy,
                                 float* dkernel, bool accumulate);

// Mixed precision (bf16.h): the same three operations with the convolution's two inputs rounded
// to bf16 (x and kernel; dy and kernel; x and dy) and f32 sums and outputs, on the kernels
// bf16_kernels() names (kNative: oneDNN's bf16 convolutions, the kernel cast by the weights
// reorder each call already makes; kEmulated: rounded copies and the f32 primitives). Under
// kNone a keel::Error: callers check first.
void conv2d_forward_bf16(const Conv2dGeometry& g, const float* x, const float* kernel, float* y);
void conv2d_backward_data_bf16(const Conv2dGeometry& g, const float* dy, const float* kernel,
                               float* dx);
void conv2d_backward_weights_bf16(const Conv2dGeometry& g, const float* x, const float* dy,
                                  float* dkernel, bool accumulate);

// Number of primitives in the calling thread's conv cache (tests of the caching).
int64_t conv2d_cache_size();

}  // namespace keel
