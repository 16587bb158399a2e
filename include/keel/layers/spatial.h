// Arguments shared by the 2-D spatial layers (Conv2D, DepthwiseConv2D, pooling, ZeroPadding2D):
// Keras takes an int or an (h, w) pair for kernel_size, strides, pool_size and dilation_rate.
//
//   keel::Conv2D(32, 3, {.strides = 2})          keel::Conv2D(32, {3, 5}, {.strides = {2, 1}})
//
// Only data_format="channels_last" (NHWC, Keras's default) is supported; "channels_first" is an
// error naming the layer, never a silently wrong answer.
#pragma once

#include <cstdint>

namespace keel {

struct Size2 {
  int64_t h = 1, w = 1;
  Size2() = default;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, as Keras's int form
  Size2(int64_t height, int64_t width) : h(height), w(width) {}
  bool operator==(const Size2&) const = default;
};

}  // namespace keel
