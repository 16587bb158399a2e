// The plan's layer fusions. BN + ReLU (Model::fused_activations): an Activation('relu') that alone
// reads a BatchNormalization's output runs inside it. The fused model must give the same bits as
// the same layers unfused, on every path of the BN layer: the row-chunk kernels that mask as they
// read (<= 64 channels), the column-block path (130 channels), a permuted list of axes ([1, 3] on
// NHWC), a strided layout (axis 1 on NHWC) and a frozen BN (inference-mode backward), in
// training and in prediction; and nothing is fused when a second reader needs the pre-ReLU values.
// BN + ReLU + MaxPooling2D (Model::fused_poolings): the same bits again, on the pool geometries the
// fused kernels handle differently from the pool layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "keel/core/rng.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"
#include "test_util.h"

namespace keel {
namespace {

// The CNN of the test; `barrier` puts a same-shape Reshape between each BN and its ReLU, which
// stops the fusion (the ReLU's input then comes from the Reshape) and changes nothing else.
Sequential cnn(bool barrier) {
  Sequential m;
  m.add(Reshape({8, 8, 1}, {.input_shape = {8, 8}}));
  const auto bn_relu = [&](BatchNormalizationOptions bn, std::vector<int64_t> shape) {
    m.add(BatchNormalization(std::move(bn)));
    if (barrier) m.add(Reshape(std::move(shape)));
    m.add(Activation("relu"));
  };
  m.add(Conv2D(4, 3, {.padding = "same", .use_bias = false}));
  bn_relu({}, {8, 8, 4});
  m.add(MaxPooling2D());
  m.add(Conv2D(6, 3, {.padding = "same"}));
  bn_relu({.axis = {1, 3}, .momentum = 0.9}, {4, 4, 6});  // axes 1 and 3: permuted first
  m.add(Conv2D(3, 1));
  bn_relu({.axis = 1}, {4, 4, 3});  // axis 1 of NHWC: (batch, 4, 12) with inner > 1
  m.add(Flatten());
  m.add(Dense(130, {.use_bias = false}));
  bn_relu({}, {130});  // > 64 channels: the column-block kernels
  m.add(Dense(20));
  bn_relu({.trainable = false}, {20});  // frozen: inference-mode backward inside fit
  m.add(Dense(5, {.activation = "softmax"}));
  return m;
}

// Builds `make(false)` (fused) and `make(true)` (the barrier model) with the same weights, checks
// which activations the first fuses, then trains both 3 SGD steps on the same 300-image batches:
// losses, every weight and the predictions must be the same bits.
template <typename MakeModel>
void expect_fusion_changes_no_bit(MakeModel make, const std::vector<std::string>& fused_names,
                                  const std::vector<std::string>& fused_pools = {},
                                  int64_t image_size = 8) {
  reset_default_names();
  Sequential fused = make(false);
  reset_default_names();
  Sequential plain = make(true);
  fused.build(std::nullopt, 7);
  plain.build(std::nullopt, 7);
  EXPECT_EQ(fused.fused_activations(), fused_names);
  EXPECT_TRUE(plain.fused_activations().empty());
  EXPECT_EQ(fused.fused_poolings(), fused_pools);
  EXPECT_TRUE(plain.fused_poolings().empty());
  const auto fv = fused.variables(), pv = plain.variables();
  ASSERT_EQ(fv.size(), pv.size());
  for (size_t i = 0; i < fv.size(); ++i) {
    ASSERT_EQ(fv[i]->name, pv[i]->name);
    std::copy_n(fv[i]->value, fv[i]->size(), pv[i]->value);
  }
  for (Sequential* m : {&fused, &plain}) {
    m->compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9}),
                .loss = "sparse_categorical_crossentropy"});
  }
  // 300 images: 19,200 rows of 4 channels in the first BN, several row chunks, both threads.
  const int64_t batch = 300;
  Rng rng(11);
  Tensor x({batch, image_size, image_size}), y({batch, 1});
  for (int step = 0; step < 3; ++step) {
    for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
    for (int64_t i = 0; i < batch; ++i) y.data()[i] = static_cast<float>(rng.uniform_int(5));
    const double a = *fused.train_on_batch(x, y).get("loss");
    const double b = *plain.train_on_batch(x, y).get("loss");
    EXPECT_EQ(a, b) << "step " << step;
    for (size_t i = 0; i < fv.size(); ++i) {
      ASSERT_TRUE(std::equal(fv[i]->value, fv[i]->value + fv[i]->size(), pv[i]->value))
          << fv[i]->name << " after step " << step;
    }
  }
  const Tensor pa = fused.predict(x, 64), pb = plain.predict(x, 64);
  ASSERT_EQ(pa.size(), pb.size());
  EXPECT_TRUE(std::equal(pa.data(), pa.data() + pa.size(), pb.data()));
}

TEST(ReluFusion, FusedModelGivesTheUnfusedBitsOnEveryBatchNormPath) {
  expect_fusion_changes_no_bit(cnn, {"activation", "activation_1", "activation_2", "activation_3",
                                     "activation_4"},
                               {"max_pooling2d"});
}

// BN -> ReLU -> MaxPooling2D runs as one layer (Model::fused_poolings): the BN writes the pooled
// output and expands the pool's gradient chunk by chunk from the recorded winners. Windows that
// the input does not fill ('same' padding on both sides: clipped corner windows), rows and columns
// no window covers (stride 3 > pool 2), channel counts that are not a multiple of 16 and 64
// channels; 256-row chunks that start inside an image.
Sequential pooled_cnn(bool barrier) {
  Sequential m;
  m.add(Reshape({10, 10, 1}, {.input_shape = {10, 10}}));
  m.add(Conv2D(20, 3, {.padding = "same", .use_bias = false}));
  m.add(BatchNormalization());
  if (barrier) m.add(Reshape({10, 10, 20}));
  m.add(Activation("relu"));
  m.add(MaxPooling2D({.pool_size = 3, .strides = 3, .padding = "same"}));  // 10 -> 4, pad 1 / 1
  m.add(Conv2D(64, 1));
  m.add(BatchNormalization({.momentum = 0.9}));
  if (barrier) m.add(Reshape({4, 4, 64}));
  m.add(Activation("relu"));
  m.add(MaxPooling2D({.pool_size = 2, .strides = 3}));  // 4 -> 1: rows and columns 2, 3 unpooled
  m.add(Flatten());
  m.add(Dense(5, {.activation = "softmax"}));
  return m;
}

TEST(PoolFusion, BatchNormReluMaxPoolGivesTheUnfusedBits) {
  expect_fusion_changes_no_bit(pooled_cnn, {"activation", "activation_1"},
                               {"max_pooling2d", "max_pooling2d_1"}, 10);
}

// A frozen BN (inference-mode backward inside fit) takes the pool's gradient at full size.
Sequential frozen_pooled_cnn(bool barrier) {
  Sequential m;
  m.add(Reshape({8, 8, 1}, {.input_shape = {8, 8}}));
  m.add(Conv2D(6, 3, {.padding = "same"}));
  m.add(BatchNormalization({.trainable = false}));
  if (barrier) m.add(Reshape({8, 8, 6}));
  m.add(Activation("relu"));
  m.add(MaxPooling2D());
  m.add(Flatten());
  m.add(Dense(5, {.activation = "softmax"}));
  return m;
}

TEST(PoolFusion, FrozenBatchNormGivesTheUnfusedBits) {
  expect_fusion_changes_no_bit(frozen_pooled_cnn, {"activation"}, {"max_pooling2d"});
}

// Not fused: a pool whose input has a second reader, average pooling, overlapping windows, and a
// BN over another axis.
TEST(PoolFusion, NotWhenThePoolCannotRunInsideTheBatchNorm) {
  const auto fused_pools = [](KerasTensor (*pool)(KerasTensor), BatchNormalizationOptions bn) {
    reset_default_names();
    KerasTensor in = Input({8, 8, 3});
    KerasTensor r = Activation("relu")(BatchNormalization(std::move(bn))(Conv2D(4, 3)(in)));
    Model m(in, Dense(2)(Flatten()(pool(r))));
    m.build();
    return m.fused_poolings();
  };
  const auto max_pool = [](KerasTensor t) { return MaxPooling2D()(t); };
  EXPECT_EQ(fused_pools(max_pool, {}), std::vector<std::string>{"max_pooling2d"});
  EXPECT_TRUE(fused_pools(max_pool, {.axis = 1}).empty());
  EXPECT_TRUE(fused_pools([](KerasTensor t) { return AveragePooling2D()(t); }, {}).empty());
  EXPECT_TRUE(fused_pools([](KerasTensor t) { return MaxPooling2D({.pool_size = 3, .strides = 1})(t); }, {})
                  .empty());
  EXPECT_TRUE(fused_pools([](KerasTensor t) { return Add()({MaxPooling2D()(t), MaxPooling2D({.name = "p2"})(t)}); }, {})
                  .empty());
}

// Without BN: a linear Conv2D, DepthwiseConv2D or Dense followed by Activation('relu') computes the
// ReLU in its own bias + activation pass (as with activation='relu'), and its backward masks dy by
// the output. Same bits as unfused.
Sequential plain_cnn(bool barrier) {
  Sequential m;
  m.add(Reshape({8, 8, 1}, {.input_shape = {8, 8}}));
  const auto relu = [&](std::vector<int64_t> shape) {
    if (barrier) m.add(Reshape(std::move(shape)));
    m.add(Activation("relu"));
  };
  m.add(Conv2D(4, 3, {.padding = "same"}));
  relu({8, 8, 4});
  m.add(DepthwiseConv2D(3, {.padding = "same"}));
  relu({8, 8, 4});
  m.add(Flatten());
  m.add(Dense(16));
  relu({16});
  m.add(Dense(5, {.activation = "softmax"}));
  return m;
}

TEST(ReluFusion, LinearConvAndDenseTakeTheReluIntoTheirBiasPass) {
  expect_fusion_changes_no_bit(plain_cnn, {"activation", "activation_1", "activation_2"});
}

// A ReLU whose input another layer also reads (or that the model outputs) is not fused: the other
// reader needs the values before the ReLU.
TEST(ReluFusion, NotWhenThePreReluValuesHaveAnotherReader) {
  reset_default_names();
  KerasTensor in = Input({6});
  KerasTensor h = Dense(8)(in);
  KerasTensor n = BatchNormalization()(h);
  KerasTensor r = Activation("relu")(n);
  KerasTensor sum = Add()({r, n});
  Model two_readers(in, Dense(2)(sum));
  two_readers.build();
  EXPECT_TRUE(two_readers.fused_activations().empty());

  reset_default_names();
  KerasTensor in2 = Input({6});
  KerasTensor n2 = BatchNormalization()(Dense(8)(in2));
  KerasTensor r2 = Activation("relu")(n2);
  Model pre_relu_output(std::vector<KerasTensor>{in2}, std::vector<KerasTensor>{r2, n2});
  pre_relu_output.build();
  EXPECT_TRUE(pre_relu_output.fused_activations().empty());

  reset_default_names();
  KerasTensor in3 = Input({6});
  Model fusable(in3, Activation("relu")(BatchNormalization()(Dense(8)(in3))));
  fusable.build();
  EXPECT_EQ(fusable.fused_activations(), std::vector<std::string>{"activation"});
}

}  // namespace
}  // namespace keel
