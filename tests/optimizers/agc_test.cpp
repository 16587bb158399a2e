// Adaptive gradient clipping (ClipOptions::agc): closed-form cases, which axes make a unit, the
// 1e-3 floor, excluded variables, the order with Keras's clipnorm, errors and config, the kernel
// against its naive loops, determinism over thread counts, and golden trajectories from
// tools/golden/agc_golden.py (DeepMind's nfnets formulas in NumPy).
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/agc.h"
#include "keel/kernels/optimizer_kernels.h"
#include "keel/kernels/threads.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/clipping.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  return true;
}

// One variable with its own buffers and shape.
struct Var {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> w, g;
  bool exclude = false;
  ParamRef ref() {
    return {name, w.data(), g.data(), static_cast<int64_t>(w.size()), shape, exclude};
  }
};

std::vector<ParamRef> refs(std::vector<Var>& vars) {
  std::vector<ParamRef> out;
  for (Var& v : vars) out.push_back(v.ref());
  return out;
}

// ---- closed form ------------------------------------------------------------------------------

TEST(AgcClipping, KernelColumnsAreUnitsOneClippedOthersBitForBit) {
  // Dense kernel (in 2, out 3), lambda 0.1. Column norms of W: 5, 0 (floor 1e-3), 1, so the limits
  // are 0.5, 1e-4, 0.1. G's columns: (0.6, 0.8) norm 1 > 0.5 is scaled by 0.5; the zero column
  // cannot trigger; (0.03, 0.04) norm 0.05 < 0.1 stays. Row norms (the wrong axis) would clip
  // differently: row 1 of W is (4, 0, 0), row 0 of G (0.6, 0, 0.03) is over 0.1 * sqrt(10).
  Var k{"dense/kernel:0", {2, 3}, {3, 0, 1, 4, 0, 0}, {0.6f, 0, 0.03f, 0.8f, 0, 0.04f}};
  ParamRef p = k.ref();
  const ClipResult r = clip_gradients({&p, 1}, {.agc = 0.1});
  EXPECT_FLOAT_EQ(k.g[0], 0.3f);
  EXPECT_FLOAT_EQ(k.g[3], 0.4f);
  EXPECT_EQ(k.g[1], 0.0f);
  EXPECT_EQ(k.g[4], 0.0f);
  EXPECT_EQ(k.g[2], 0.03f);  // untouched, bit for bit
  EXPECT_EQ(k.g[5], 0.04f);
  EXPECT_EQ(r.agc_clipped_units, 1);
  EXPECT_TRUE(r.clipped);
  EXPECT_NEAR(r.preclip_global_norm, std::sqrt(1.0 + 0.0025), 1e-6);  // the raw gradient
  EXPECT_NEAR(r.postclip_global_norm, std::sqrt(0.25 + 0.0025), 1e-6);
}

TEST(AgcClipping, BiasIsOneUnitWholeTensorNorm) {
  // ||b|| = 5, lambda 0.1: limit 0.5 for the whole vector. G = (0, 2) becomes (0, 0.5). Per
  // element (limits 0.3 and 0.4) it would become (0, 0.4).
  Var b{"dense/bias:0", {2}, {3, 4}, {0, 2}};
  ParamRef p = b.ref();
  const ClipResult r = clip_gradients({&p, 1}, {.agc = 0.1});
  EXPECT_EQ(b.g[0], 0.0f);
  EXPECT_FLOAT_EQ(b.g[1], 0.5f);
  EXPECT_EQ(r.agc_clipped_units, 1);
  // An empty shape is one unit too.
  Var e{"e", {}, {3, 4}, {0, 2}};
  p = e.ref();
  clip_gradients({&p, 1}, {.agc = 0.1});
  EXPECT_FLOAT_EQ(e.g[1], 0.5f);
}

TEST(AgcClipping, ZeroWeightsUseTheFloor) {
  // W = 0: the limit is lambda * 1e-3, not 0. ||G|| = 5e-4.
  Var b{"b", {2}, {0, 0}, {3e-4f, 4e-4f}};
  ParamRef p = b.ref();
  EXPECT_EQ(clip_gradients({&p, 1}, {.agc = 1.0}).agc_clipped_units, 0);  // 5e-4 < 1e-3: kept
  EXPECT_EQ(b.g[0], 3e-4f);
  EXPECT_EQ(b.g[1], 4e-4f);
  EXPECT_EQ(clip_gradients({&p, 1}, {.agc = 0.1}).agc_clipped_units, 1);  // limit 1e-4
  EXPECT_FLOAT_EQ(b.g[0], 6e-5f);
  EXPECT_FLOAT_EQ(b.g[1], 8e-5f);
  // DeepMind's division guard, literally: ||G|| = 1e-8 over the limit 1e-12 is scaled by
  // 1e-12 / max(1e-8, 1e-6) = 1e-6, not down to the limit.
  Var t{"t", {2}, {0, 0}, {6e-9f, 8e-9f}};
  p = t.ref();
  EXPECT_EQ(clip_gradients({&p, 1}, {.agc = 1e-9}).agc_clipped_units, 1);
  EXPECT_FLOAT_EQ(t.g[0], 6e-15f);
  EXPECT_FLOAT_EQ(t.g[1], 8e-15f);
  // A zero gradient never triggers (and never divides by zero).
  Var z{"z", {2, 2}, {0, 0, 0, 0}, {0, 0, 0, 0}};
  p = z.ref();
  EXPECT_EQ(clip_gradients({&p, 1}, {.agc = 1e-9}).agc_clipped_units, 0);
  EXPECT_EQ(z.g, std::vector<float>(4, 0.0f));
}

TEST(AgcClipping, ExcludedVariableIsUntouched) {
  std::vector<Var> vars = {
      {"dense/kernel:0", {2, 2}, {1, 1, 1, 1}, {5, 5, 5, 5}},
      {"dense_1/kernel:0", {2, 2}, {1, 1, 1, 1}, {5, 5, 5, 5}, true},
  };
  auto params = refs(vars);
  const ClipResult r = clip_gradients(params, {.agc = 0.01});
  EXPECT_EQ(r.agc_clipped_units, 2);  // the two columns of the first kernel
  EXPECT_FLOAT_EQ(vars[0].g[0], 0.01f);  // columns (5, 5) to norm 0.01 * sqrt(2)
  EXPECT_EQ(vars[1].g, std::vector<float>(4, 5.0f));
  // Excluded variables still take the Keras rule.
  auto again = refs(vars);
  clip_gradients(again, {.clipvalue = 1.0, .agc = 0.01});
  EXPECT_EQ(vars[1].g, std::vector<float>(4, 1.0f));
}

TEST(AgcClipping, RunsBeforeClipnorm) {
  // Kernel (2, 2): W columns (3, 4) and (6, 8), limits 0.5 and 1 at lambda 0.1. G columns (0, 2)
  // and (0.48, 0.64), norms 2 and 0.8, variable norm sqrt(4.64).
  //   AGC, then clipnorm 0.5: (0, 0.5), (0.48, 0.64) [norm sqrt(0.89)], all x 0.5 / sqrt(0.89).
  //   clipnorm first would give (0, 2), (0.48, 0.64) x 0.5 / sqrt(4.64), under both AGC limits.
  const std::vector<float> w0{3, 6, 4, 8}, g0{0, 0.48f, 2, 0.64f};
  const double f = 0.5 / std::sqrt(0.89);
  const std::vector<double> expected{0, 0.48 * f, 0.5 * f, 0.64 * f};

  Var k{"k", {2, 2}, w0, g0};
  ParamRef p = k.ref();
  const ClipResult r = clip_gradients({&p, 1}, {.clipnorm = 0.5, .agc = 0.1});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(k.g[i], expected[i], 1e-7) << i;
  EXPECT_NEAR(r.preclip_global_norm, std::sqrt(4.64), 1e-6);  // raw, before AGC
  EXPECT_NEAR(r.postclip_global_norm, 0.5, 1e-7);
  EXPECT_EQ(r.agc_clipped_units, 1);

  // The same through the fused SGD step (lr 1: w -= g'); it reads the AGC'd buffer.
  Var s{"k", {2, 2}, w0, g0};
  SGD sgd({.learning_rate = 1.0, .clipnorm = 0.5, .agc = 0.1});
  ParamRef q = s.ref();
  const StepResult step = sgd.apply_gradients({&q, 1});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(s.w[i], w0[i] - expected[i], 1e-6) << i;
  EXPECT_EQ(step.clip.preclip_global_norm, r.preclip_global_norm);
  // AGC writes the gradient in place (the Keras rule does not, in the fused step).
  EXPECT_FLOAT_EQ(s.g[2], 0.5f);
  EXPECT_EQ(s.g[1], 0.48f);
}

TEST(AgcClipping, GlobalClipnormSeesTheAgcGradient) {
  // Bias (3, 4) lambda 0.1: G (0, 20) -> (0, 0.5); then global_clipnorm 1 leaves it alone (with
  // the raw norm 20 it would scale by 1/20).
  Var b{"b", {2}, {3, 4}, {0, 20}};
  ParamRef p = b.ref();
  const ClipResult r = clip_gradients({&p, 1}, {.global_clipnorm = 1.0, .agc = 0.1});
  EXPECT_FLOAT_EQ(b.g[1], 0.5f);
  EXPECT_NEAR(r.preclip_global_norm, 20.0, 1e-12);
  EXPECT_NEAR(r.postclip_global_norm, 0.5, 1e-7);
}

TEST(AgcClipping, UnitsAreTheLastAxis) {
  // Rank 3 (Conv1D (k, cin, cout)) and rank 4 (Conv2D HWIO): one unit per output channel, the
  // same as the (rows, cout) matrix. Rank 5 likewise.
  Rng rng(31, 0);
  auto random = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v) x = (static_cast<float>(rng.uniform()) - 0.5f) * scale;
    return v;
  };
  const std::vector<std::vector<int64_t>> shapes = {{3, 2, 4}, {2, 3, 2, 4}, {1, 2, 3, 2, 4}};
  for (const auto& shape : shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const std::vector<float> w = random(static_cast<size_t>(n), 1.0f);
    std::vector<float> g = random(static_cast<size_t>(n), 0.3f);
    for (size_t i = 0; i < g.size(); i += 2) g[i] *= 0.1f;  // output channels 0 and 2 stay small
    Var a{"a", shape, w, g}, m{"m", {n / 4, 4}, w, g};
    ParamRef pa = a.ref(), pm = m.ref();
    const ClipResult ra = clip_gradients({&pa, 1}, {.agc = 0.1});
    const ClipResult rm = clip_gradients({&pm, 1}, {.agc = 0.1});
    EXPECT_GT(ra.agc_clipped_units, 0) << shape.size();
    EXPECT_LT(ra.agc_clipped_units, 4) << shape.size();
    EXPECT_EQ(ra.agc_clipped_units, rm.agc_clipped_units);
    EXPECT_TRUE(same_bits(a.g, m.g)) << "rank " << shape.size();
  }
}

TEST(AgcClipping, SqueezedToOneAxisIsOneUnitAsDeepMind) {
  // DeepMind's unitwise_norm takes the whole-tensor norm when squeeze(x) has rank <= 1: a (1, 3)
  // kernel is one unit. W = (3, 4, 0), lambda 0.1: limit 0.5, so G (0, 0, 2) becomes (0, 0, 0.5)
  // (per column, the zero column's limit 1e-4 would give (0, 0, 1e-4)).
  Var k{"k", {1, 3}, {3, 4, 0}, {0, 0, 2}};
  ParamRef p = k.ref();
  EXPECT_EQ(clip_gradients({&p, 1}, {.agc = 0.1}).agc_clipped_units, 1);
  EXPECT_FLOAT_EQ(k.g[2], 0.5f);
  // (3, 1, 1) likewise: one unit.
  Var c{"c", {3, 1, 1}, {3, 4, 0}, {0, 0, 2}};
  p = c.ref();
  clip_gradients({&p, 1}, {.agc = 0.1});
  EXPECT_FLOAT_EQ(c.g[2], 0.5f);
}

TEST(AgcClipping, NonFiniteIsCaughtBeforeAgcWrites) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Var k{"dense/kernel:0", {2, 2}, {1, 1, 1, 1}, {50, nan, 50, 1}};
  const std::vector<float> before = k.g;
  ParamRef p = k.ref();
  EXPECT_THROW(clip_gradients({&p, 1}, {.agc = 0.01}), Error);
  EXPECT_TRUE(same_bits(k.g, before));
  const ClipResult r =
      clip_gradients({&p, 1}, {.agc = 0.01, .on_nonfinite = NonFinitePolicy::kSkipStep});
  EXPECT_FALSE(r.finite);
  EXPECT_TRUE(same_bits(k.g, before));
}

TEST(AgcClipping, InvalidValuesAndShapesAreErrors) {
  std::vector<float> w{1}, g{1};
  ParamRef p{"w", w.data(), g.data(), 1};
  for (double bad : {0.0, -0.01, std::nan(""), std::numeric_limits<double>::infinity()}) {
    try {
      clip_gradients({&p, 1}, {.agc = bad});
      ADD_FAILURE() << "agc " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("agc"), std::string::npos) << e.what();
    }
    EXPECT_THROW(SGD({.agc = bad}), Error);
    EXPECT_THROW(make_optimizer("adam", {{"agc", bad}}), Error);
  }
  try {
    SGD({.agc = -2.5});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("-2.5"), std::string::npos) << e.what();
  }
  // A shape that does not match the size.
  std::vector<float> w4(4), g4(4);
  const int64_t shape[] = {3, 2};
  ParamRef q{"dense/kernel:0", w4.data(), g4.data(), 4, shape};
  EXPECT_THROW(clip_gradients({&q, 1}, {.agc = 0.1}), Error);
  EXPECT_NO_THROW(clip_gradients({&q, 1}, {.clipnorm = 0.1}));  // only AGC reads the shape
}

TEST(AgcClipping, ConfigKeyIsKeelSpecificAndRoundTrips) {
  EXPECT_FALSE(make_optimizer("sgd")->get_config().contains("agc"));  // Keras's keys exactly
  auto sgd = make_optimizer("sgd", {{"agc", 0.01}, {"momentum", 0.9}, {"clipnorm", 1.0}});
  EXPECT_EQ(sgd->clip_options().agc, 0.01);
  const nlohmann::json c = sgd->get_config();
  EXPECT_EQ(c["agc"], 0.01);
  EXPECT_EQ(make_optimizer("SGD", c)->get_config(), c);
  EXPECT_FALSE(make_optimizer("adamw", {{"agc", nullptr}})->clip_options().agc.has_value());
  EXPECT_EQ(AdamW({.agc = 0.02}).clip_options().agc, 0.02);
  EXPECT_THROW(make_optimizer("sgd", {{"agc", "big"}}), Error);
}

// ---- the kernel -------------------------------------------------------------------------------

TEST(AgcKernel, MatchesNaiveLoops) {
  Rng rng(77, 0);
  const int64_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 64, 65};
  std::vector<float> scale(200);
  int64_t clipped_total = 0;
  for (int64_t rows : sizes) {
    for (int64_t units : {int64_t{1}, int64_t{2}, int64_t{17}, int64_t{65}, int64_t{130}}) {
      const auto n = static_cast<size_t>(rows * units);
      std::vector<float> w(n), g(n);
      for (float& x : w) x = static_cast<float>(rng.uniform()) - 0.5f;
      for (float& x : g) x = (static_cast<float>(rng.uniform()) - 0.5f) * 0.1f;
      std::vector<float> fast = g, ref = g;
      const int64_t a = agc_clip(w.data(), fast.data(), rows, units, 0.05, scale.data());
      const int64_t b = agc_clip_ref(w.data(), ref.data(), rows, units, 0.05);
      EXPECT_EQ(a, b) << rows << "x" << units;
      clipped_total += a;
      if (units > 1) {
        EXPECT_TRUE(same_bits(fast, ref)) << rows << "x" << units;
      } else {  // sum_squares' lanes: the norm may differ in its last bit
        for (size_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(fast[i], ref[i]) << rows << " " << i;
      }
    }
  }
  EXPECT_GT(clipped_total, 0);
}

// The seed model's shapes: big enough for both threads (784 x 300) and some below the threshold.
std::vector<Var> seed_like_model(uint64_t seed) {
  const std::vector<std::vector<int64_t>> shapes = {{784}, {784},     {784, 300}, {300},
                                                    {300}, {300, 100}, {100},     {100, 10},
                                                    {10}};
  Rng rng(seed, 1);
  std::vector<Var> vars;
  for (const auto& s : shapes) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    Var v{"var" + std::to_string(vars.size()), s, std::vector<float>(n), std::vector<float>(n)};
    for (float& x : v.w) x = (static_cast<float>(rng.uniform()) - 0.5f) * 0.1f;
    vars.push_back(std::move(v));
  }
  vars[7].exclude = true;  // the classifier's kernel
  return vars;
}

void fill_gradients(std::vector<Var>& vars, uint64_t seed) {
  Rng rng(seed, 2);
  for (Var& v : vars)
    for (float& x : v.g) x = (static_cast<float>(rng.uniform()) - 0.5f) * 0.05f;
}

TEST(AgcDeterminism, SameBitsWhateverTheThreadCount) {
  const int saved = num_threads();
  std::vector<std::vector<float>> first;
  std::vector<int64_t> first_units;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<Var> vars = seed_like_model(3);
    SGD sgd({.learning_rate = 0.1, .momentum = 0.9, .global_clipnorm = 5.0, .agc = 0.02});
    std::vector<int64_t> units;
    for (int step = 0; step < 3; ++step) {
      fill_gradients(vars, 50 + step);
      auto params = refs(vars);
      units.push_back(sgd.apply_gradients(params).clip.agc_clipped_units);
    }
    std::vector<std::vector<float>> w;
    for (const Var& v : vars) w.push_back(v.w);
    if (threads == 1) {
      first = w;
      first_units = units;
      EXPECT_GT(units[0], 0);
      continue;
    }
    EXPECT_EQ(units, first_units) << threads;
    for (size_t v = 0; v < w.size(); ++v)
      EXPECT_TRUE(same_bits(w[v], first[v])) << threads << " threads, var " << v;
  }
  set_num_threads(saved);
}

TEST(AgcDeterminism, FusedSgdMatchesAgcThenUnfusedUpdate) {
  std::vector<Var> fused = seed_like_model(4), unfused = seed_like_model(4);
  SGD sgd({.learning_rate = 0.1, .momentum = 0.9, .clipnorm = 0.5, .agc = 0.02});
  std::vector<std::vector<float>> m(unfused.size());
  for (size_t v = 0; v < unfused.size(); ++v) m[v].assign(unfused[v].w.size(), 0.0f);
  const SgdStep step{SgdRule::kMomentum, 0.1f, 0.9f, false, 0.0f};
  for (int s = 0; s < 3; ++s) {
    fill_gradients(fused, 60 + s);
    fill_gradients(unfused, 60 + s);
    auto params = refs(fused);
    const StepResult r = sgd.apply_gradients(params);
    auto ref_params = refs(unfused);
    const ClipResult ref = clip_gradients(ref_params, {.clipnorm = 0.5, .agc = 0.02});
    EXPECT_EQ(r.clip.preclip_global_norm, ref.preclip_global_norm);
    EXPECT_EQ(r.clip.postclip_global_norm, ref.postclip_global_norm);
    EXPECT_EQ(r.clip.agc_clipped_units, ref.agc_clipped_units);
    for (size_t v = 0; v < unfused.size(); ++v) {
      sgd_update_ref(unfused[v].w.data(), unfused[v].g.data(), m[v].data(),
                     static_cast<int64_t>(unfused[v].w.size()), step);
      EXPECT_TRUE(same_bits(fused[v].w, unfused[v].w)) << "step " << s << " var " << v;
    }
  }
}

// ---- golden -----------------------------------------------------------------------------------

TEST(AgcGolden, TrajectoriesMatchDeepMindFormulas) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/optim/agc_golden.json");
  ASSERT_TRUE(in.good()) << "missing fixture; run tools/golden/agc_golden.py";
  const nlohmann::json golden = nlohmann::json::parse(in);
  const auto names = golden["names"].get<std::vector<std::string>>();
  const auto shapes = golden["shapes"].get<std::vector<std::vector<int64_t>>>();
  const auto exclude = golden["exclude_from_agc"].get<std::vector<bool>>();
  const auto init = golden["init"].get<std::vector<std::vector<float>>>();
  const auto grads = golden["grads"].get<std::vector<std::vector<std::vector<float>>>>();
  const auto norms = golden["preclip_global_norms"].get<std::vector<double>>();
  ASSERT_EQ(golden["cases"].size(), 4u);
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto opt = make_optimizer(c["optimizer"].get<std::string>(), c["config"]);
    std::vector<std::vector<float>> w = init, g(init.size());
    for (size_t step = 0; step < grads.size(); ++step) {
      std::vector<ParamRef> params;
      for (size_t v = 0; v < w.size(); ++v) {
        g[v] = grads[step][v];
        params.push_back({names[v], w[v].data(), g[v].data(), static_cast<int64_t>(w[v].size()),
                          shapes[v], exclude[v]});
      }
      const StepResult r = opt->apply_gradients(params);
      EXPECT_NEAR(r.clip.preclip_global_norm, norms[step], 1e-9 * norms[step]);
      const double post = c["postclip_global_norms"][step].get<double>();
      EXPECT_NEAR(r.clip.postclip_global_norm, post, 1e-6 * post) << "step " << step;
      EXPECT_EQ(r.clip.agc_clipped_units, c["agc_clipped_units"][step].get<int64_t>())
          << "step " << step;
      const auto expected = c["expected"][step].get<std::vector<std::vector<double>>>();
      for (size_t v = 0; v < w.size(); ++v) {
        for (size_t i = 0; i < w[v].size(); ++i) {
          EXPECT_NEAR(w[v][i], expected[v][i], 1e-6 * std::abs(expected[v][i]) + 1e-9)
              << "step " << step << " var " << names[v] << " i " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace keel
