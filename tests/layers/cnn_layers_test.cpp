// The convolutional layers' contracts: finite-difference gradients (every input and parameter,
// both Write modes), shapes, argument errors as Keras raises them, and configs.
#include <gtest/gtest.h>

#include <algorithm>

#include "keel/core/error.h"
#include "keel/layers/layers.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::check_gradients;
using testing::LayerHarness;
using testing::random_vector;

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no throw";
}

template <typename L>
std::unique_ptr<Layer> own(L layer) {
  return std::make_unique<L>(std::move(layer));
}

// `separated`: inputs are a shuffled grid 0.1 apart, so no max changes hands within the
// finite-difference step (max pooling's kinks).
void fd_check(std::unique_ptr<Layer> layer, std::vector<int64_t> sample, int64_t batch = 2,
              bool separated = false) {
  LayerHarness h(std::move(layer), Shape::batched(sample), 3);
  // Biases away from zero so every path (bias gradient) is exercised.
  for (auto& v : h.layer().variables())
    for (int64_t i = 0; i < v.size(); ++i) v.value[i] += 0.1f * float(i % 3);
  std::vector<float> x = random_vector(h.in_size(batch), 11);
  if (separated) {
    std::vector<float> grid(x.size());
    for (size_t i = 0; i < grid.size(); ++i) grid[i] = 0.1f * float(i) - 0.05f * float(grid.size());
    // Shuffle by the ranks of the random vector: a fixed permutation.
    std::vector<size_t> order(x.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    for (size_t i = 0; i < order.size(); ++i) x[order[i]] = grid[i];
  }
  check_gradients(h, x, batch);
}

TEST(CnnLayers, Conv2DGradients) {
  fd_check(own(Conv2D(3, 3, {.padding = "same"})), {5, 5, 2});
  fd_check(own(Conv2D(2, 3, {.strides = 2, .padding = "same"})), {6, 6, 2});
  fd_check(own(Conv2D(2, 2, {.padding = "same", .dilation_rate = 2, .activation = "elu"})), {5, 4, 2});
  fd_check(own(Conv2D(4, {2, 3}, {.strides = {1, 2}, .groups = 2, .activation = "tanh"})), {5, 6, 2});
  fd_check(own(Conv2D(2, 3, {.activation = "softmax", .use_bias = false})), {4, 4, 3});
}

TEST(CnnLayers, DepthwiseConv2DGradients) {
  fd_check(own(DepthwiseConv2D(3, {.strides = 2, .padding = "same", .depth_multiplier = 2})), {5, 5, 2});
  fd_check(own(DepthwiseConv2D(2, {.dilation_rate = 2})), {5, 5, 3});
}

TEST(CnnLayers, PoolingGradients) {
  fd_check(own(MaxPooling2D()), {5, 4, 2}, 2, true);
  fd_check(own(MaxPooling2D({.pool_size = 3, .strides = 2, .padding = "same"})), {6, 5, 2}, 2, true);
  fd_check(own(AveragePooling2D({.pool_size = 2, .strides = 1, .padding = "same"})), {3, 3, 2});
  fd_check(own(AveragePooling2D({.pool_size = 3, .strides = 2})), {7, 6, 2});
  fd_check(own(GlobalAveragePooling2D()), {3, 4, 2});
  fd_check(own(GlobalMaxPooling2D({.keepdims = true})), {3, 4, 2}, 2, true);
  fd_check(own(ZeroPadding2D({.padding = {Size2{1, 2}, Size2{0, 3}}})), {2, 3, 2});
}

TEST(CnnLayers, BatchNormalization4dGradients) {
  for (const BatchNormAxes& axis : {BatchNormAxes(-1), BatchNormAxes(1), BatchNormAxes(2),
                                    BatchNormAxes{1, 3}, BatchNormAxes{2, 3}}) {
    SCOPED_TRACE(axis.values.size() == 1 ? std::to_string(axis.values[0]) : "list");
    fd_check(own(BatchNormalization({.axis = axis})), {3, 4, 2}, 3);
  }
}

// Keras's docstring example of 'same' pooling (keras-semantics-r2.md §1.4).
TEST(CnnLayers, SamePoolingDocstringExample) {
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  LayerHarness mx(own(MaxPooling2D({.pool_size = 2, .strides = 1, .padding = "same"})),
                  Shape::batched({3, 3, 1}));
  EXPECT_EQ(mx.forward(x, 1, Mode::kInference), (std::vector<float>{5, 6, 6, 8, 9, 9, 8, 9, 9}));
  LayerHarness avg(own(AveragePooling2D({.pool_size = 2, .strides = 1, .padding = "same"})),
                   Shape::batched({3, 3, 1}));
  EXPECT_EQ(avg.forward(x, 1, Mode::kInference),
            (std::vector<float>{3, 4, 4.5, 6, 7, 7.5, 7.5, 8.5, 9}));
}

TEST(CnnLayers, ShapesAndParams) {
  LayerHarness c(own(Conv2D(8, 3, {.strides = 2, .padding = "same", .groups = 2})),
                 Shape::batched({8, 7, 4}));
  EXPECT_EQ(c.layer().output_shape(), (Shape{kBatchUnknown, 4, 4, 8}));
  EXPECT_EQ(c.var("kernel").shape, (std::vector<int64_t>{3, 3, 2, 8}));
  EXPECT_EQ(c.layer().count_params(), 3 * 3 * 2 * 8 + 8);
  LayerHarness r(own(Reshape({-1, 2})), Shape::batched({3, 4}));
  EXPECT_EQ(r.layer().output_shape(), (Shape{kBatchUnknown, 6, 2}));
  EXPECT_TRUE(r.layer().is_pure_reshape());
  LayerHarness d(own(Dense(5)), Shape::batched({3, 4, 2}));
  EXPECT_EQ(d.layer().output_shape(), (Shape{kBatchUnknown, 3, 4, 5}));
  LayerHarness bn(own(BatchNormalization({.axis = {3, 1}})), Shape::batched({4, 2, 5}));
  EXPECT_EQ(bn.var("moving_mean").shape, (std::vector<int64_t>{1, 4, 1, 5}));
  EXPECT_FALSE(bn.as<BatchNormalization>().fused());
  LayerHarness bn4(own(BatchNormalization()), Shape::batched({4, 2, 5}));
  EXPECT_TRUE(bn4.as<BatchNormalization>().fused());
  LayerHarness bn2(own(BatchNormalization()), Shape::batched({5}));
  EXPECT_FALSE(bn2.as<BatchNormalization>().fused());
}

TEST(CnnLayers, ErrorsNameTheLayer) {
  EXPECT_NE(error_of([] { Conv2D(4, 3, {.data_format = "channels_first", .name = "c1"}); })
                .find("layer 'c1' (Conv2D): data_format 'channels_first' is not supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { MaxPooling2D({.data_format = "channels_first", .name = "p"}); })
                .find("layer 'p' (MaxPooling2D): data_format 'channels_first'"),
            std::string::npos);
  EXPECT_NE(error_of([] { GlobalAveragePooling2D({.data_format = "channels_first", .name = "g"}); })
                .find("layer 'g' (GlobalAveragePooling2D)"),
            std::string::npos);
  EXPECT_NE(error_of([] { Conv2D(4, 3, {.strides = 2, .dilation_rate = 2}); })
                .find("strides > 1 not supported in conjunction with dilation_rate > 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { Conv2D(5, 3, {.groups = 2}); }).find("evenly divisible"), std::string::npos);
  EXPECT_NE(error_of([] { Conv2D(4, 3, {.padding = "causal"}); }).find("padding 'causal'"),
            std::string::npos);
  EXPECT_NE(error_of([] { Conv2D(4, 3).build(Shape{kBatchUnknown, 28, 28}); })
                .find("expected (None, height, width, channels)"),
            std::string::npos);
  EXPECT_NE(error_of([] { Reshape({5, 5}).build(Shape{kBatchUnknown, 28}); })
                .find("total size of new array must be unchanged"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              BatchNormalization({.axis = 2, .fused = true}).build(Shape{kBatchUnknown, 3, 4, 5});
            }).find("fused=True"),
            std::string::npos);
  // An output past 2^32 values per sample is refused when the layer is built, naming it (the
  // allocation would otherwise fail later as a bare "out of memory").
  EXPECT_NE(error_of([] {
              ZeroPadding2D({.padding = {Size2{100000, 100000}, Size2{100000, 100000}}, .name = "zp"})
                  .build(Shape{kBatchUnknown, 4, 4, 1});
            }).find("layer 'zp' (ZeroPadding2D): output shape (None, 200004, 200004, 1) has more than 2^32"),
            std::string::npos);
  // Padding is case-insensitive, as Keras's normalize_padding.
  EXPECT_TRUE(Conv2D(4, 3, {.padding = "SAME"}).same_padding());
}

}  // namespace
}  // namespace keel
