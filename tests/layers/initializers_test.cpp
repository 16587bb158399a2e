#include "keel/layers/initializers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "keel/core/error.h"

namespace keel {
namespace {

struct Stats {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Stats sample(const Initializer& init, const std::vector<int64_t>& shape, uint64_t seed = 5) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  Rng rng(seed);
  init.fill(v, shape, rng);
  Stats s;
  double sum = 0, sq = 0;
  for (float x : v) sum += x;
  s.mean = sum / double(n);
  for (float x : v) sq += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(sq / double(n));
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

// Shape (fan_in, fan_out) = (400, 500): 200k samples, so the std is known to ~0.2%.
const std::vector<int64_t> kShape{400, 500};

TEST(LayersInitializers, GlorotUniformLimit) {
  const double limit = std::sqrt(6.0 / (400 + 500));
  const Stats s = sample("glorot_uniform", kShape);
  EXPECT_LE(s.max, limit);
  EXPECT_GE(s.min, -limit);
  EXPECT_GT(s.max, 0.99 * limit);
  EXPECT_NEAR(s.stddev, limit / std::sqrt(3.0), 0.01 * limit);
  EXPECT_NEAR(s.mean, 0.0, 0.01 * limit);
}

TEST(LayersInitializers, HeNormalIsTruncatedWithExactStd) {
  // stddev' = sqrt(2/fan_in)/0.8796..., truncated at 2 stddev'; std after truncation = sqrt(2/fan_in).
  const double target = std::sqrt(2.0 / 400);
  const double bound = 2.0 * target / 0.87962566103423978;
  const Stats s = sample("he_normal", kShape);
  EXPECT_LE(s.max, bound * (1 + 1e-6));
  EXPECT_GE(s.min, -bound * (1 + 1e-6));
  EXPECT_GT(s.max, 0.98 * bound);
  EXPECT_NEAR(s.stddev, target, 0.01 * target);
  EXPECT_NEAR(s.mean, 0.0, 0.01 * target);
}

TEST(LayersInitializers, VarianceScalingFamily) {
  struct Case {
    const char* name;
    double fan;  // scale / fan
    bool uniform;
  };
  const Case cases[] = {{"lecun_normal", 1.0 / 400, false},  {"lecun_uniform", 1.0 / 400, true},
                        {"glorot_normal", 1.0 / 450, false}, {"he_uniform", 2.0 / 400, true},
                        {"GlorotUniform", 1.0 / 450, true},  {"HeNormal", 2.0 / 400, false}};
  for (const auto& c : cases) {
    const double target = std::sqrt(c.fan);  // every variant has std sqrt(scale/fan)
    const Stats s = sample(c.name, kShape);
    EXPECT_NEAR(s.stddev, target, 0.01 * target) << c.name;
    const double bound = c.uniform ? std::sqrt(3.0) * target : 2.0 * target / 0.87962566103423978;
    EXPECT_LE(s.max, bound * (1 + 1e-6)) << c.name;
    EXPECT_GE(s.min, -bound * (1 + 1e-6)) << c.name;
  }
}

TEST(LayersInitializers, RandomFamilies) {
  Stats s = sample("random_normal", kShape);
  EXPECT_NEAR(s.stddev, 0.05, 0.0005);
  EXPECT_NEAR(s.mean, 0.0, 0.0005);
  EXPECT_GT(s.max, 0.18);  // not truncated: 3.6 sigma occurs ~30 times in 200k samples
  s = sample("random_uniform", kShape);
  EXPECT_GE(s.min, -0.05);
  EXPECT_LE(s.max, 0.05);
  EXPECT_NEAR(s.stddev, 0.1 / std::sqrt(12.0), 0.0005);
  s = sample("truncated_normal", kShape);
  EXPECT_LE(s.max, 0.1);
  EXPECT_GE(s.min, -0.1);
  // std of N(0, 0.05) truncated at ±2σ (no correction factor for TruncatedNormal itself).
  EXPECT_NEAR(s.stddev, 0.05 * 0.87962566103423978, 0.0005);
}

TEST(LayersInitializers, Constants) {
  EXPECT_EQ(sample("zeros", {3, 3}).max, 0.0);
  EXPECT_EQ(sample("ones", {7}).min, 1.0);
  const Stats s = sample(Initializer::constant(0.25), {4});
  EXPECT_EQ(s.min, 0.25);
  EXPECT_EQ(s.max, 0.25);
  EXPECT_EQ(sample(Initializer(), {2}).max, 0.0);
}

TEST(LayersInitializers, FansForVectorsAndConvKernels) {
  // Rank 1: fan_in = fan_out = shape[0]; rank 4 (3,3,16,32): fan_in = 3*3*16.
  const Stats v = sample("he_uniform", {100000});
  EXPECT_NEAR(v.stddev, std::sqrt(2.0 / 100000), 0.01 * std::sqrt(2.0 / 100000));
  const Stats k = sample("he_uniform", {3, 3, 16, 320});
  EXPECT_NEAR(k.stddev, std::sqrt(2.0 / 144), 0.01 * std::sqrt(2.0 / 144));
}

TEST(LayersInitializers, SeededInitializerIsReproducible) {
  const auto init = Initializer::from_config(
      nlohmann::json::parse(R"({"class_name": "HeNormal", "config": {"seed": 7}})"));
  std::vector<float> a(50), b(50);
  Rng r1(1), r2(2);
  init.fill(a, {5, 10}, r1);
  init.fill(b, {5, 10}, r2);
  EXPECT_EQ(a, b);
}

TEST(LayersInitializers, ConfigsAsTfKerasWritesThem) {
  using nlohmann::json;
  EXPECT_EQ(Initializer("he_normal").to_config(),
            json::parse(R"({"class_name": "HeNormal", "config": {"seed": null}})"));
  EXPECT_EQ(Initializer("glorot_uniform").to_config(),
            json::parse(R"({"class_name": "GlorotUniform", "config": {"seed": null}})"));
  EXPECT_EQ(Initializer("zeros").to_config(), json::parse(R"({"class_name": "Zeros", "config": {}})"));
  EXPECT_EQ(Initializer("ones").to_config(), json::parse(R"({"class_name": "Ones", "config": {}})"));
  EXPECT_EQ(Initializer::constant(0.5).to_config(),
            json::parse(R"({"class_name": "Constant", "config": {"value": 0.5}})"));
  EXPECT_EQ(Initializer("random_normal").to_config(),
            json::parse(R"({"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.05, "seed": null}})"));
  EXPECT_EQ(Initializer("random_uniform").to_config(),
            json::parse(R"({"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": null}})"));
  const json vs = json::parse(
      R"({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": 3}})");
  EXPECT_EQ(Initializer::from_config(vs).to_config(), vs);
  // Round trips.
  for (const char* name : {"he_normal", "lecun_uniform", "truncated_normal", "zeros", "constant"}) {
    const json c = Initializer(name).to_config();
    EXPECT_EQ(Initializer::from_config(c).to_config(), c) << name;
  }
  // Bare strings, Keras 3's extra keys, TF.js's "normal" distribution.
  EXPECT_EQ(Initializer::from_config(json("he_normal")).class_name(), "HeNormal");
  EXPECT_EQ(Initializer::from_config(json::parse(
                R"({"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null})"))
                .class_name(),
            "Zeros");
  EXPECT_EQ(Initializer::from_config(json::parse(
                R"({"class_name": "VarianceScaling", "config": {"scale": 1, "mode": "fan_avg", "distribution": "normal", "seed": null}})"))
                .to_config()["config"]["distribution"],
            "truncated_normal");
}

TEST(LayersInitializers, RejectsUnknownNamesAndArguments) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no throw");
  };
  EXPECT_NE(message([] { Initializer("he_norml"); }).find("'he_norml'"), std::string::npos);
  EXPECT_NE(message([] {
              Initializer::from_config(nlohmann::json::parse(
                  R"({"class_name": "HeNormal", "config": {"seed": null, "gain": 2}})"));
            }).find("'gain'"),
            std::string::npos);
  EXPECT_NE(message([] {
              Initializer::from_config(nlohmann::json::parse(
                  R"({"class_name": "VarianceScaling", "config": {"mode": "fan_sum"}})"));
            }).find("fan_sum"),
            std::string::npos);
  EXPECT_NE(message([] {
              Initializer::from_config(nlohmann::json::parse(R"({"class_name": "Identity", "config": {}})"));
            }).find("Identity"),
            std::string::npos);
}

}  // namespace
}  // namespace keel
