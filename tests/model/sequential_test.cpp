// Sequential structure: default names in code order, arenas, trainable flags.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "keel/core/error.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

TEST(Sequential, DefaultNamesFollowCodeOrderNotArgumentEvaluationOrder) {
  reset_default_names();
  Sequential m(Flatten({.input_shape = {2, 2}}), Dense(3), BatchNormalization(), Dense(2),
               BatchNormalization());
  std::vector<std::string> names;
  for (int64_t i = 0; i < m.num_layers(); ++i) names.push_back(m.layer(i).name());
  EXPECT_EQ(names, (std::vector<std::string>{"flatten", "dense", "batch_normalization", "dense_1",
                                             "batch_normalization_1"}));
  EXPECT_EQ(m.name(), "sequential");
  Sequential named("my_model");
  EXPECT_EQ(named.name(), "my_model");
  Sequential next;
  EXPECT_EQ(next.name(), "sequential_1");  // the named model took no default name
}

TEST(Sequential, VariablesLiveInOneArenaInKerasOrder) {
  reset_default_names();
  Model m = seed_mlp();
  m.build();
  const auto vars = m.variables();
  ASSERT_EQ(vars.size(), 4u + 2u + 4u + 2u + 4u + 2u);
  EXPECT_EQ(vars[0]->name, "batch_normalization/gamma:0");
  EXPECT_EQ(vars[4]->name, "dense/kernel:0");
  EXPECT_EQ(vars[4]->shape, (std::vector<int64_t>{784, 300}));
  const float* p = m.parameter_arena().data();
  for (const Variable* v : vars) {
    EXPECT_EQ(v->value, p) << v->name;  // contiguous, in order
    p += v->size();
  }
  EXPECT_EQ(m.count_params(), 271346);
}

TEST(Sequential, FreezingAfterBuildMovesGammaBetaToNonTrainable) {
  reset_default_names();
  Model m = seed_mlp();
  m.build();
  m.layer(1).set_trainable(false);  // the input BN: 2 x 784 trainable -> non-trainable
  EXPECT_EQ(m.trainable_params(), 268978 - 2 * 784);
  EXPECT_EQ(m.non_trainable_params(), 2368 + 2 * 784);
  EXPECT_NE(m.summary().find("Non-trainable params: 3,936"), std::string::npos) << m.summary();

  // After compile the optimizer leaves the frozen layer alone, and the BN runs in inference mode
  // (its moving statistics stay put).
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
             .loss = "sparse_categorical_crossentropy"});
  const Variable& gamma = m.layer(1).variables()[0];
  const Variable& moving_mean = m.layer(1).variables()[2];
  const std::vector<float> gamma_before(gamma.value, gamma.value + 784);
  const std::vector<float> mean_before(moving_mean.value, moving_mean.value + 784);
  Tensor x({8, 28, 28}), y({8, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 17.0f;
  for (int64_t i = 0; i < 8; ++i) y[i] = static_cast<float>(i % 10);
  m.train_on_batch(x, y);
  EXPECT_EQ(std::vector<float>(gamma.value, gamma.value + 784), gamma_before);
  EXPECT_EQ(std::vector<float>(moving_mean.value, moving_mean.value + 784), mean_before);
  // ...while the next BN did update its statistics.
  EXPECT_NE(m.layer(3).variables()[2].value[0], 0.0f);
}

TEST(Sequential, ErrorsNameTheModelAndTheFix) {
  Sequential m(Dense(3));
  try {
    m.build();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input_shape"), std::string::npos) << e.what();
  }
  Sequential dup(Dense(3, {.input_shape = {2}, .name = "d"}));
  EXPECT_THROW(dup.add(Dense(2, {.name = "d"})), Error);
  dup.add(Dense(2, {.name = "e"}));  // the refused layer left nothing behind
  EXPECT_THROW(dup.add(Dense(2, {.name = "e"})), Error);
  EXPECT_EQ(dup.layers().size(), 2u);
}


// Flatten is a pure reshape: the model passes buffers through it instead of copying, including
// in the middle of the stack, where the layer after it must see the right input and the delta
// buffers must be chosen by what holds dy, not by layer index. Gradients are checked against
// central finite differences of L = Σ out·r for a fixed r (an oracle independent of backward).
TEST(Sequential, FlattenInsideTheStackPassesGradientsThrough) {
  // Two layers on each side of the inner Flatten (a ping-pong by layer index would hand dense_1
  // one buffer as both dy and dx).
  Sequential model(Dense(3, {.activation = "tanh", .input_shape = {4, 2}}),
                   Dense(3, {.activation = "tanh"}), Flatten(), Dense(5, {.activation = "tanh"}),
                   Dense(2), Flatten());
  model.build(std::nullopt, 7);
  constexpr int64_t kBatch = 3;
  std::vector<float> x(kBatch * 8), r(kBatch * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * static_cast<float>(i) + 0.3f);
  for (size_t i = 0; i < r.size(); ++i) r[i] = std::cos(1.3f * static_cast<float>(i));
  auto objective = [&] {
    const float* out = model.forward(x.data(), kBatch, Mode::kInference);
    double sum = 0.0;
    for (size_t i = 0; i < r.size(); ++i) sum += static_cast<double>(out[i]) * r[i];
    return sum;
  };
  model.zero_gradients();
  model.forward(x.data(), kBatch, Mode::kTraining);
  model.backward(x.data(), r.data(), kBatch, false);
  const std::span<float> grads = model.gradient_arena();
  const std::vector<float> analytic(grads.begin(), grads.end());
  std::span<float> params = model.parameter_arena();
  ASSERT_EQ(params.size(), analytic.size());  // every variable is trainable here
  constexpr float kStep = 1e-2f;
  for (size_t i = 0; i < params.size(); ++i) {
    const float saved = params[i];
    params[i] = saved + kStep;
    const double up = objective();
    params[i] = saved - kStep;
    const double down = objective();
    params[i] = saved;
    const double numeric = (up - down) / (2.0 * kStep);
    EXPECT_NEAR(analytic[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << "parameter " << i;
  }
}


// fit() lets layers overwrite their gradients instead of zeroing the arena and adding: the
// result must be exactly the zero-then-add result, whatever the arena held before.
TEST(Sequential, OverwritingBackwardEqualsZeroThenAdd) {
  Sequential model(Flatten({.input_shape = {3, 4}}), BatchNormalization(),
                   Dense(6, {.activation = "elu"}), BatchNormalization(),
                   Dense(3, {.activation = "softmax", .use_bias = false}));
  model.build(std::nullopt, 11);
  constexpr int64_t kBatch = 5;
  std::vector<float> x(kBatch * 12), dy(kBatch * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = std::cos(0.91f * static_cast<float>(i));
  const std::span<float> grads = model.gradient_arena();

  model.zero_gradients();
  model.forward(x.data(), kBatch, Mode::kTraining);
  model.backward(x.data(), dy.data(), kBatch, /*from_logits=*/true);
  const std::vector<float> added(grads.begin(), grads.end());

  std::fill(grads.begin(), grads.end(), 123.0f);
  model.forward(x.data(), kBatch, Mode::kTraining);
  model.backward(x.data(), dy.data(), kBatch, true, Model::GradientUpdate::kOverwrite);
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_EQ(grads[i], added[i]) << "gradient " << i;

  // kAdd still adds (DESIGN.md: backward accumulates).
  model.forward(x.data(), kBatch, Mode::kTraining);
  model.backward(x.data(), dy.data(), kBatch, true);
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_EQ(grads[i], added[i] + added[i]) << i;
}

}  // namespace
}  // namespace keel
