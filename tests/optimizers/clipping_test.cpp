// Gradient clipping: closed-form checks (the seed's [0.9, 100] examples), priorities, overflow,
// non-finite policies, and that clipping really changes the update.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/core/error.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/clipping.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

TEST(Clipping, ClipvalueChangesDirection) {
  std::vector<float> w{0, 0}, g{0.9f, 100.0f};
  ParamRef p{"w", w.data(), g.data(), 2};
  const ClipResult r = clip_gradients({&p, 1}, {.clipvalue = 1.0});
  EXPECT_FLOAT_EQ(g[0], 0.9f);
  EXPECT_FLOAT_EQ(g[1], 1.0f);
  EXPECT_TRUE(r.clipped);
  EXPECT_NEAR(r.preclip_global_norm, std::sqrt(0.81 + 10000.0), 1e-4);
  EXPECT_NEAR(r.postclip_global_norm, std::sqrt(0.81 + 1.0), 1e-6);
}

TEST(Clipping, ClipnormKeepsDirection) {
  // ||[0.9, 100]|| = 100.00405; g / 100.00405 = [0.0089996355, 0.9999595] (HOML's printout).
  std::vector<float> w{0, 0}, g{0.9f, 100.0f};
  ParamRef p{"w", w.data(), g.data(), 2};
  const ClipResult r = clip_gradients({&p, 1}, {.clipnorm = 1.0});
  EXPECT_NEAR(g[0], 0.00899964, 1e-8);
  EXPECT_NEAR(g[1], 0.9999595, 1e-7);
  // Bit-exact with TF's float32 (g * 1) / 100.00405f.
  EXPECT_EQ(g[0], 0.9f / 100.00405f);
  EXPECT_EQ(g[1], 100.0f / 100.00405f);
  EXPECT_TRUE(r.clipped);
  EXPECT_NEAR(r.postclip_global_norm, 1.0, 1e-12);
}

TEST(Clipping, ClipnormIsPerVariableAndLeavesSmallOnesAlone) {
  std::vector<float> w(4), a{3, 4}, b{0.3f, 0.4f};  // norms 5 and 0.5
  ParamRef p[2] = {{"a", w.data(), a.data(), 2}, {"b", w.data() + 2, b.data(), 2}};
  const ClipResult r = clip_gradients(p, {.clipnorm = 1.0});
  EXPECT_FLOAT_EQ(a[0], 0.6f);
  EXPECT_FLOAT_EQ(a[1], 0.8f);
  EXPECT_EQ(b[0], 0.3f);  // untouched, bit for bit
  EXPECT_EQ(b[1], 0.4f);
  EXPECT_NEAR(r.preclip_global_norm, std::sqrt(25.25), 1e-6);
  EXPECT_NEAR(r.postclip_global_norm, std::sqrt(1.25), 1e-6);
}

TEST(Clipping, GlobalClipnormScalesAllVariablesByOneFactor) {
  // Global norm of {[3, 4], [0, 12]} is 13; with c = 1.3 every element is scaled by 0.1, so the
  // direction of the concatenated gradient is preserved (unlike per-variable clipnorm).
  std::vector<float> w(4), a{3, 4}, b{0, 12};
  ParamRef p[2] = {{"a", w.data(), a.data(), 2}, {"b", w.data() + 2, b.data(), 2}};
  const ClipResult r = clip_gradients(p, {.global_clipnorm = 1.3});
  EXPECT_NEAR(r.preclip_global_norm, 13.0, 1e-12);
  EXPECT_NEAR(r.postclip_global_norm, 1.3, 1e-6);  // the scale is a float32, as in TF
  EXPECT_FLOAT_EQ(a[0], 0.3f);
  EXPECT_FLOAT_EQ(a[1], 0.4f);
  EXPECT_EQ(b[0], 0.0f);
  EXPECT_FLOAT_EQ(b[1], 1.2f);
  // Below the threshold nothing changes (1.31 > 1.3 + float rounding of the clipped values).
  const ClipResult again = clip_gradients(p, {.global_clipnorm = 1.31});
  EXPECT_FALSE(again.clipped);
  EXPECT_FLOAT_EQ(b[1], 1.2f);
}

TEST(Clipping, OnlyOneRuleAppliesWithKerasPriority) {
  // clipnorm beats clipvalue: [0.9, 100] -> [0.009, 0.99996], not clamped to 0.5 afterwards.
  std::vector<float> w(2), g{0.9f, 100.0f};
  ParamRef p{"w", w.data(), g.data(), 2};
  clip_gradients({&p, 1}, {.clipnorm = 1.0, .clipvalue = 0.5});
  EXPECT_NEAR(g[1], 0.9999595, 1e-7);
  // global_clipnorm beats clipvalue.
  g = {0.9f, 100.0f};
  clip_gradients({&p, 1}, {.global_clipnorm = 1.0, .clipvalue = 0.5});
  EXPECT_NEAR(g[1], 0.9999595, 1e-7);
}

TEST(Clipping, InvalidOptionsAreErrors) {
  std::vector<float> w(1), g{1};
  ParamRef p{"w", w.data(), g.data(), 1};
  EXPECT_THROW(clip_gradients({&p, 1}, {.clipnorm = 1.0, .global_clipnorm = 1.0}), Error);
  EXPECT_THROW(clip_gradients({&p, 1}, {.clipvalue = 0.0}), Error);
  EXPECT_THROW(clip_gradients({&p, 1}, {.clipnorm = -1.0}), Error);
  EXPECT_THROW(clip_gradients({&p, 1}, {.global_clipnorm = std::nan("")}), Error);
  EXPECT_THROW(SGD({.clipvalue = 0.0}), Error);  // Keras would silently not clip
  EXPECT_THROW(Adam({.clipnorm = 1.0, .global_clipnorm = 2.0}), Error);
}

TEST(Clipping, HugeGradientsDoNotOverflowTheNorm) {
  // float squares of 1e20 overflow float (1e40 > 3.4e38) but not the double accumulator.
  std::vector<float> w(3), g{1e20f, -1e20f, 1e20f};
  ParamRef p{"w", w.data(), g.data(), 3};
  EXPECT_NEAR(global_gradient_norm({&p, 1}), std::sqrt(3.0) * 1e20, 1e13);
  std::vector<float> big(1000, std::numeric_limits<float>::max());
  ParamRef q{"big", big.data(), big.data(), 1000};
  EXPECT_TRUE(std::isfinite(global_gradient_norm({&q, 1})));
  const ClipResult r = clip_gradients({&p, 1}, {.global_clipnorm = 1.0});
  EXPECT_TRUE(r.finite);
  EXPECT_NEAR(g[0], 1.0 / std::sqrt(3.0), 1e-6);
  EXPECT_NEAR(g[1], -1.0 / std::sqrt(3.0), 1e-6);
}

TEST(Clipping, HugeGradientBatchMovesWeightsByAtMostLr) {
  // A "huge-gradient batch": with global_clipnorm = 1, plain SGD moves the weights by a vector
  // of norm at most lr * 1, however large the gradient.
  std::vector<float> w1(50, 0.5f), w2(7, -0.25f), g1(50), g2(7);
  for (size_t i = 0; i < g1.size(); ++i) g1[i] = (i % 2 ? 1.0f : -3.0f) * 1e15f;
  for (size_t i = 0; i < g2.size(); ++i) g2[i] = 1e18f * static_cast<float>(i + 1);
  const std::vector<float> w1_0 = w1, w2_0 = w2;
  ParamRef p[2] = {{"d/kernel:0", w1.data(), g1.data(), 50}, {"d/bias:0", w2.data(), g2.data(), 7}};
  SGD sgd({.learning_rate = 0.1, .global_clipnorm = 1.0});
  const StepResult r = sgd.apply_gradients(p);
  EXPECT_TRUE(r.clip.clipped);
  EXPECT_GT(r.clip.preclip_global_norm, 1e18);
  double moved = 0;
  for (size_t i = 0; i < w1.size(); ++i) moved += std::pow(double(w1[i]) - w1_0[i], 2);
  for (size_t i = 0; i < w2.size(); ++i) moved += std::pow(double(w2[i]) - w2_0[i], 2);
  EXPECT_LE(std::sqrt(moved), 0.1 * (1 + 1e-5));
  EXPECT_GT(std::sqrt(moved), 0.1 * (1 - 1e-3));
}

TEST(Clipping, ClippingChangesTheUpdate) {
  std::vector<float> wa{1, 1}, wb{1, 1}, ga{0.9f, 100.0f}, gb{0.9f, 100.0f};
  ParamRef pa{"w", wa.data(), ga.data(), 2}, pb{"w", wb.data(), gb.data(), 2};
  SGD plain({.learning_rate = 0.1});
  SGD clipped({.learning_rate = 0.1, .clipnorm = 1.0});
  plain.apply_gradients({&pa, 1});
  clipped.apply_gradients({&pb, 1});
  EXPECT_FLOAT_EQ(wa[1], 1.0f - 10.0f);
  EXPECT_NEAR(wb[0], 1.0 - 0.1 * 0.0089996355, 1e-7);
  EXPECT_NEAR(wb[1], 1.0 - 0.1 * 0.9999595, 1e-6);
}

TEST(ClippingNonFinite, ErrorNamesFirstOffendingVariableAndLeavesEverythingUntouched) {
  std::vector<float> w1{1, 2}, w2{3, 4}, g1{0.5f, 0.5f}, g2{1.0f, std::nanf("")};
  ParamRef p[2] = {{"dense/kernel:0", w1.data(), g1.data(), 2},
                   {"dense/bias:0", w2.data(), g2.data(), 2}};
  SGD sgd({.learning_rate = 0.1, .momentum = 0.9, .clipnorm = 0.1});
  try {
    sgd.apply_gradients(p);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("dense/bias:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("element 1"), std::string::npos) << msg;
  }
  EXPECT_EQ(w1[0], 1.0f);
  EXPECT_EQ(g1[0], 0.5f);  // not clipped either: the check runs before anything changes
  EXPECT_EQ(sgd.iterations(), 0);
}

TEST(ClippingNonFinite, SkipStepLeavesWeightsSlotsAndIterations) {
  std::vector<float> w{1, 2}, g{0.5f, -0.5f};
  ParamRef p{"w", w.data(), g.data(), 2};
  Adam adam({.learning_rate = 0.1, .on_nonfinite = NonFinitePolicy::kSkipStep});
  EXPECT_FALSE(adam.apply_gradients({&p, 1}).skipped);
  const std::vector<float> w_after_one = w;
  std::vector<std::vector<float>> slots_before;
  for (auto& [name, s] : adam.slots()) slots_before.emplace_back(s.begin(), s.end());
  g = {std::numeric_limits<float>::infinity(), 1.0f};
  const StepResult r = adam.apply_gradients({&p, 1});
  EXPECT_TRUE(r.skipped);
  EXPECT_FALSE(r.clip.finite);
  EXPECT_EQ(w, w_after_one);
  size_t k = 0;
  for (auto& [name, s] : adam.slots()) EXPECT_EQ(std::vector<float>(s.begin(), s.end()), slots_before[k++]) << name;
  EXPECT_EQ(adam.iterations(), 1);
  EXPECT_EQ(adam.skipped_steps(), 1);
}

TEST(ClippingNonFinite, IgnoreProceedsLikeKeras) {
  std::vector<float> w{1, 2}, g{1.0f, std::numeric_limits<float>::infinity()};
  ParamRef p{"w", w.data(), g.data(), 2};
  SGD sgd({.learning_rate = 0.1, .on_nonfinite = NonFinitePolicy::kIgnore});
  const StepResult r = sgd.apply_gradients({&p, 1});
  EXPECT_FALSE(r.skipped);
  EXPECT_FALSE(r.clip.finite);
  EXPECT_FLOAT_EQ(w[0], 0.9f);
  EXPECT_TRUE(std::isinf(w[1]));
  // With global_clipnorm Keras's scale is NaN for a non-finite norm: everything becomes NaN.
  std::vector<float> w2{1, 2}, g2{1.0f, std::numeric_limits<float>::infinity()};
  ParamRef p2{"w", w2.data(), g2.data(), 2};
  SGD sgd2({.learning_rate = 0.1, .global_clipnorm = 1.0, .on_nonfinite = NonFinitePolicy::kIgnore});
  sgd2.apply_gradients({&p2, 1});
  EXPECT_TRUE(std::isnan(w2[0]));
}

}  // namespace
}  // namespace keel
