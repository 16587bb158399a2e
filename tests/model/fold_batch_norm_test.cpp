// fold_batch_norm: both seed models after real training steps fold completely and predict the same
// (the unfolded model's BN inference path is the independent reference); a closed-form 1x1 case;
// Dense with and without bias; BN layers that cannot fold are kept and reported.
#include "keel/deploy/fold_batch_norm.h"

#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "interop/trained_models.h"
#include "keel/layers/layers.h"

namespace keel {
namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

int count_bn(const Model& m) {
  int n = 0;
  for (int64_t i = 0; i < m.num_layers(); ++i) n += m.layer(i).class_name() == "BatchNormalization";
  return n;
}

const Variable& var(Model& m, const std::string& name) {
  for (Variable* v : m.variables())
    if (v->name == name) return *v;
  throw std::runtime_error("no variable " + name);
}

void set(Model& m, const std::string& name, std::vector<float> values) {
  const Variable& v = var(m, name);
  ASSERT_EQ(v.size(), int64_t(values.size())) << name;
  std::copy(values.begin(), values.end(), v.value);
}

TEST(FoldBatchNorm, SeedModelsFoldCompletelyAndPredictTheSame) {
  struct Case {
    const char* model;
    std::vector<std::string> into;  // the Dense each BN folds into, in order
    std::vector<bool> previous;
  };
  for (const Case& c : {Case{"seed-mlp", {"dense", "dense_1", "dense_2"}, {false, false, false}},
                        Case{"seed-mlp-bn-before", {"dense", "dense", "dense_1"}, {false, true, true}}}) {
    reset_default_names();
    Model m = testing::trained_seed_model(c.model);
    // The statistics really moved away from their initial values (so folding is not trivial).
    const Variable& mean = var(m, "batch_normalization/moving_mean:0");
    EXPECT_GT(std::fabs(mean.value[0]), 0.05) << c.model;
    const std::vector<float> before(m.parameter_arena().begin(), m.parameter_arena().end());

    FoldResult r = fold_batch_norm(m);
    EXPECT_EQ(0, std::memcmp(before.data(), m.parameter_arena().data(), before.size() * 4))
        << c.model << ": the input model changed";
    EXPECT_EQ(count_bn(r.model), 0) << c.model;
    EXPECT_TRUE(r.kept.empty()) << r.report();
    ASSERT_EQ(r.folded.size(), 3u) << r.report();
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(r.folded[i].dense_layer, c.into[i]) << c.model << " " << i;
      EXPECT_EQ(r.folded[i].into_previous, c.previous[i]) << c.model << " " << i;
    }
    // Dense names are kept; the folded Dense layers all have a bias now.
    for (int64_t i = 0; i < r.model.num_layers(); ++i) {
      if (r.model.layer(i).class_name() == "Dense") {
        EXPECT_EQ(r.model.layer(i).variables().size(), 2u) << r.model.layer(i).name();
      }
    }
    const Tensor x = testing::random_images(64, 999);
    EXPECT_LE(max_abs_diff(m.predict(x), r.model.predict(x)), 1e-5) << c.model;
  }
}

// y = BN(x·2 + 1) with gamma 3, beta 0.5, mean 1, var 3, epsilon 1: s = 3/2, so the folded Dense
// is x·3 + 0.5 (closed form: ((2x + 1) - 1)·1.5 + 0.5).
TEST(FoldBatchNorm, ClosedFormDenseThenBn) {
  for (bool use_bias : {true, false}) {
    reset_default_names();
    Sequential m(Dense(1, {.use_bias = use_bias, .input_shape = {1}}),
                 BatchNormalization({.epsilon = 1.0}));
    m.build();
    set(m, "dense/kernel:0", {2});
    if (use_bias) set(m, "dense/bias:0", {1});
    set(m, "batch_normalization/gamma:0", {3});
    set(m, "batch_normalization/beta:0", {0.5});
    set(m, "batch_normalization/moving_mean:0", {use_bias ? 1.0f : 0.0f});
    set(m, "batch_normalization/moving_variance:0", {3});
    FoldResult r = fold_batch_norm(m);
    ASSERT_EQ(r.model.num_layers(), 1);
    EXPECT_FLOAT_EQ(var(r.model, "dense/kernel:0").value[0], 3.0f);
    EXPECT_FLOAT_EQ(var(r.model, "dense/bias:0").value[0], 0.5f);
  }
}

// BN -> Dense: y = (s·x + t)·W + b, s = gamma/sqrt(var + 1) = (1/2, 2/4), t = beta - mean·s = (-1, -1),
// so W' = (1.5, 2.5) and b' = 7 + t·W = 7 - 3 - 5.
TEST(FoldBatchNorm, ClosedFormBnThenDense) {
  reset_default_names();
  Sequential m(BatchNormalization({.epsilon = 1.0, .input_shape = {2}}), Dense(1));
  m.build();
  set(m, "batch_normalization/gamma:0", {1, 2});
  set(m, "batch_normalization/beta:0", {1, 0});
  set(m, "batch_normalization/moving_mean:0", {4, 2});
  set(m, "batch_normalization/moving_variance:0", {3, 15});
  set(m, "dense/kernel:0", {3, 5});
  set(m, "dense/bias:0", {7});
  FoldResult r = fold_batch_norm(m);
  ASSERT_EQ(r.model.num_layers(), 1);
  const Variable& k = var(r.model, "dense/kernel:0");
  EXPECT_FLOAT_EQ(k.value[0], 1.5f);
  EXPECT_FLOAT_EQ(k.value[1], 2.5f);
  EXPECT_FLOAT_EQ(var(r.model, "dense/bias:0").value[0], 7.0f - 3.0f - 5.0f);
}

TEST(FoldBatchNorm, KeepsAndReportsWhatCannotFold) {
  reset_default_names();
  Sequential m(Flatten({.input_shape = {4, 5}}), Dense(8, {.activation = "relu"}),
               BatchNormalization(), Dropout(0.5), Dense(6, {.use_bias = false}),
               Activation("tanh"), BatchNormalization({.name = "last_bn"}));
  m.build();
  // Non-trivial statistics so a wrong "fold" would show in the predictions.
  Rng rng(5);
  for (Variable* v : m.variables()) {
    if (v->name.find("batch_normalization") == std::string::npos && v->name.find("last_bn") == std::string::npos)
      continue;
    for (int64_t i = 0; i < v->size(); ++i) v->value[i] = 0.5f + rng.uniform();
  }
  FoldResult r = fold_batch_norm(m);
  EXPECT_TRUE(r.folded.empty());
  ASSERT_EQ(r.kept.size(), 2u);
  EXPECT_EQ(r.kept[0].bn_layer, "batch_normalization");
  EXPECT_NE(r.kept[0].reason.find("activation is relu, not linear"), std::string::npos) << r.report();
  EXPECT_NE(r.kept[0].reason.find("followed by Dropout 'dropout'"), std::string::npos) << r.report();
  EXPECT_NE(r.kept[1].reason.find("last layer"), std::string::npos) << r.report();
  EXPECT_NE(r.report().find("kept   last_bn"), std::string::npos) << r.report();
  EXPECT_EQ(count_bn(r.model), 2);
  Tensor x({3, 4, 5});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(rng.normal());
  EXPECT_EQ(max_abs_diff(m.predict(x), r.model.predict(x)), 0.0);
}

TEST(FoldBatchNorm, LinearDenseWithBiasBnThenDenseFoldsBothWays) {
  // BN_a -> Dense(linear, bias) -> BN_b -> Dense: BN_a folds forward, BN_b backward into the same
  // Dense, BN_c (before the last Dense, after an activation) forward.
  reset_default_names();
  Sequential m(BatchNormalization({.input_shape = {6}}), Dense(5), BatchNormalization(),
               Activation("elu"), BatchNormalization(), Dense(3, {.activation = "softmax"}));
  m.build(std::nullopt, 11);
  Rng rng(9);
  for (Variable* v : m.variables()) {
    if (v->name.find("batch_normalization") == std::string::npos) continue;
    for (int64_t i = 0; i < v->size(); ++i) v->value[i] = 0.25f + 1.5f * rng.uniform();
  }
  FoldResult r = fold_batch_norm(m);
  ASSERT_EQ(r.folded.size(), 3u) << r.report();
  EXPECT_EQ(r.model.num_layers(), 3);
  Tensor x({16, 6});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(2 * rng.normal());
  EXPECT_LE(max_abs_diff(m.predict(x), r.model.predict(x)), 1e-6);
}

}  // namespace
}  // namespace keel
