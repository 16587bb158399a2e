// Optimizers: closed-form steps, slots, configs, construction errors.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/core/error.h"
#include "keel/optimizers/adagrad.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/nadam.h"
#include "keel/optimizers/rmsprop.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

TEST(OptimizerSGD, OneStepClosedForm) {
  // w = [1, -2], g = [0.5, 4], lr 0.1: w -= lr*g -> [0.95, -2.4].
  std::vector<float> w{1, -2}, g{0.5f, 4};
  ParamRef p{"w", w.data(), g.data(), 2};
  SGD sgd({.learning_rate = 0.1});
  sgd.apply_gradients({&p, 1});
  EXPECT_FLOAT_EQ(w[0], 0.95f);
  EXPECT_FLOAT_EQ(w[1], -2.4f);
  EXPECT_TRUE(sgd.slots().empty());  // no velocity without momentum
  EXPECT_EQ(sgd.iterations(), 1);
}

TEST(OptimizerSGD, MomentumAndNesterovTwoStepsClosedForm) {
  // momentum 0.9, lr 0.1, g = 1 twice. m1 = -0.1, w1 = -0.1; m2 = -0.19, w2 = -0.29.
  // Nesterov: w1 = 0.9*m1 - 0.1 = -0.19; w2 = w1 + 0.9*m2 - 0.1 = -0.19 - 0.271 = -0.461.
  std::vector<float> w{0}, g{1}, wn{0}, gn{1};
  ParamRef p{"w:0", w.data(), g.data(), 1}, pn{"w:0", wn.data(), gn.data(), 1};
  SGD sgd({.learning_rate = 0.1, .momentum = 0.9});
  SGD nesterov({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  for (int i = 0; i < 2; ++i) {
    sgd.apply_gradients({&p, 1});
    nesterov.apply_gradients({&pn, 1});
  }
  EXPECT_FLOAT_EQ(w[0], -0.29f);
  EXPECT_FLOAT_EQ(wn[0], -0.461f);
  auto slots = sgd.slots();
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].first, "w/m");
  EXPECT_FLOAT_EQ(slots[0].second[0], -0.19f);
}

TEST(OptimizerSGD, DecoupledWeightDecayIsAppliedFirst) {
  // w = 2, wd 0.5, lr 0.1: w -= w*wd*lr = 0.1 -> 1.9; then w -= lr*g (g = 1) -> 1.8.
  std::vector<float> w{2}, g{1};
  ParamRef p{"w", w.data(), g.data(), 1};
  SGD sgd({.learning_rate = 0.1, .weight_decay = 0.5});
  sgd.apply_gradients({&p, 1});
  EXPECT_FLOAT_EQ(w[0], 1.8f);
}

TEST(OptimizerAdam, FirstStepIsLrTimesSignForLargeGradients) {
  // Step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr*sqrt(0.001)/0.1, so the step is
  // lr * g/|g| / (1 + eps/(sqrt(0.001)|g|)). Like Keras, keel takes beta_2^t from float32(0.999),
  // so 1 - beta_2^1 = 0.00099998713 while v uses float32(1 - 0.999): 6.4e-6 relative.
  std::vector<float> w{0, 0}, g{3, -0.5f};
  ParamRef p{"w", w.data(), g.data(), 2};
  Adam adam;
  adam.apply_gradients({&p, 1});
  EXPECT_NEAR(w[0], -0.001 / (1 + 1e-7 / (std::sqrt(0.001) * 3)), 1e-8);
  EXPECT_NEAR(w[1], 0.001 / (1 + 1e-7 / (std::sqrt(0.001) * 0.5)), 1e-8);
}

TEST(OptimizerSlots, NamesAndCounts) {
  std::vector<float> w(3), g(3, 1.0f), b(2), gb(2, 1.0f);
  ParamRef p[2] = {{"dense/kernel:0", w.data(), g.data(), 3}, {"dense/bias:0", b.data(), gb.data(), 2}};
  Adam ams({.amsgrad = true});
  ams.apply_gradients(p);
  std::vector<std::string> names;
  for (auto& [name, span] : ams.slots()) names.push_back(name + "#" + std::to_string(span.size()));
  EXPECT_EQ(names, (std::vector<std::string>{"dense/kernel/m#3", "dense/kernel/v#3",
                                            "dense/kernel/vhat#3", "dense/bias/m#2",
                                            "dense/bias/v#2", "dense/bias/vhat#2"}));
  RMSprop plain;
  RMSprop full({.momentum = 0.5, .centered = true});
  plain.build(p);
  full.build(p);
  EXPECT_EQ(plain.slots().size(), 2u);
  EXPECT_EQ(full.slots()[1].first, "dense/kernel/momentum");
  EXPECT_EQ(full.slots()[2].first, "dense/kernel/average_gradient");
  Adagrad adagrad;
  adagrad.build(p);
  EXPECT_EQ(adagrad.slots()[0].first, "dense/kernel/accumulator");
  EXPECT_FLOAT_EQ(adagrad.slots()[0].second[2], 0.1f);
  // Slots can be written (checkpoint restore) and are used by the next step.
  SGD sgd({.learning_rate = 1.0, .momentum = 0.5});
  sgd.build(p);
  for (auto& [name, span] : sgd.slots()) std::fill(span.begin(), span.end(), 2.0f);
  const float w0 = w[0];
  sgd.apply_gradients(p);  // m = 0.5*2 - 1 = 0 -> w unchanged
  EXPECT_EQ(w[0], w0);
  // A different variable list is an error.
  EXPECT_THROW(sgd.apply_gradients({p, 1}), Error);
}

TEST(OptimizerNadam, RestoringIterationsRestoresTheMomentumSchedule) {
  std::vector<float> wa{1, 2}, ga(2), wb(2), gb(2);
  ParamRef pa{"w", wa.data(), ga.data(), 2}, pb{"w", wb.data(), gb.data(), 2};
  Nadam a;
  for (int step = 0; step < 5; ++step) {
    ga = {0.1f * step - 0.2f, 0.3f};
    a.apply_gradients({&pa, 1});
    if (step == 2) {
      // Snapshot: a fresh optimizer with the same slots, weights and iterations.
      Nadam b;
      b.build({&pb, 1});
      wb = wa;
      auto sa = a.slots(), sb = b.slots();
      for (size_t k = 0; k < sa.size(); ++k) std::copy(sa[k].second.begin(), sa[k].second.end(), sb[k].second.begin());
      b.set_iterations(a.iterations());
      for (int s2 = 3; s2 < 5; ++s2) {
        gb = {0.1f * s2 - 0.2f, 0.3f};
        b.apply_gradients({&pb, 1});
      }
    }
  }
  EXPECT_EQ(wa, wb);
}

TEST(OptimizerLearningRate, SetAndFloat32) {
  SGD sgd;
  EXPECT_EQ(sgd.learning_rate(), static_cast<double>(0.01f));
  sgd.set_learning_rate(0.5);
  std::vector<float> w{1}, g{1};
  ParamRef p{"w", w.data(), g.data(), 1};
  sgd.apply_gradients({&p, 1});
  EXPECT_FLOAT_EQ(w[0], 0.5f);
  EXPECT_THROW(sgd.set_learning_rate(-1.0), Error);
  EXPECT_THROW(sgd.set_learning_rate(std::nan("")), Error);
}

TEST(OptimizerConfig, MatchesKerasKeys) {
  auto sgd = make_optimizer("sgd");
  const nlohmann::json c = sgd->get_config();
  EXPECT_EQ(sgd->class_name(), "SGD");
  EXPECT_EQ(c["name"], "SGD");
  EXPECT_EQ(c["learning_rate"].get<double>(), 0.009999999776482582);  // float32(0.01)
  EXPECT_EQ(c["momentum"], 0.0);
  EXPECT_EQ(c["nesterov"], false);
  EXPECT_TRUE(c["clipnorm"].is_null());
  EXPECT_TRUE(c["weight_decay"].is_null());
  EXPECT_EQ(c["is_legacy_optimizer"], false);

  auto adamw = make_optimizer("AdamW", {{"clipnorm", 1.0}, {"on_nonfinite", "skip_step"}});
  const nlohmann::json a = adamw->get_config();
  EXPECT_EQ(a["weight_decay"], 0.004);
  EXPECT_EQ(a["clipnorm"], 1.0);
  EXPECT_EQ(a["beta_2"], 0.999);
  EXPECT_EQ(a["epsilon"], 1e-7);
  EXPECT_EQ(adamw->clip_options().on_nonfinite, NonFinitePolicy::kSkipStep);
  // A Keras config round-trips through make_optimizer.
  auto again = make_optimizer(adamw->class_name(), a);
  EXPECT_EQ(again->get_config(), a);
  for (const char* name : {"adam", "nadam", "rmsprop", "adagrad"}) {
    auto opt = make_optimizer(name);
    EXPECT_EQ(make_optimizer(name, opt->get_config())->get_config(), opt->get_config()) << name;
  }
  EXPECT_EQ(make_optimizer("rmsprop")->get_config()["rho"], 0.9);
  EXPECT_EQ(make_optimizer("adagrad")->get_config()["initial_accumulator_value"], 0.1);
}

TEST(OptimizerConfig, Errors) {
  EXPECT_THROW(make_optimizer("lamb"), Error);
  EXPECT_THROW(make_optimizer("sgd", {{"momentun", 0.9}}), Error);      // typo
  EXPECT_THROW(make_optimizer("sgd", {{"momentum", 1.5}}), Error);      // out of range
  EXPECT_THROW(make_optimizer("sgd", {{"momentum", "high"}}), Error);   // wrong type
  EXPECT_THROW(make_optimizer("adam", {{"use_ema", true}}), Error);     // unsupported
  EXPECT_THROW(make_optimizer("adam", {{"on_nonfinite", "warn"}}), Error);
  EXPECT_THROW(make_optimizer("adam", {{"beta_1", 1.0}}), Error);
  EXPECT_THROW(AdamW({.weight_decay = std::nullopt}), Error);
  EXPECT_NO_THROW(make_optimizer("adam", {{"use_ema", false}, {"jit_compile", true}, {"clipnorm", nullptr}}));
}

}  // namespace
}  // namespace keel
