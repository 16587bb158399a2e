// Single-sample predict (issue 4's inference path): the m == 1 products go through matvec
// instead of oneDNN, and predict(Tensor) / predict_into skip the DataView. Checked here against a
// double-precision forward written from the layer formulas, across thread counts, and between
// the two public entry points.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/threads.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"

namespace keel {
namespace {

// The seed model with every variable random (BN statistics far from 0/1), so each term matters.
Model random_seed_model() {
  reset_default_names();
  Model model = seed_mlp();
  model.build(std::nullopt, 3);
  Rng rng(17, 0);
  for (Variable* v : model.variables()) {
    const bool variance = v->name.find("moving_variance") != std::string::npos;
    const bool kernel = v->name.find("kernel") != std::string::npos;
    for (int64_t i = 0; i < v->size(); ++i) {
      const double u = rng.uniform_double();
      v->value[i] = static_cast<float>(variance ? 0.2 + 2.0 * u : kernel ? (u - 0.5) * 0.15 : u - 0.5);
    }
  }
  return model;
}

Tensor random_images(int64_t n, uint64_t seed) {
  Rng rng(seed, 1);
  Tensor x({n, 28, 28});
  // Half the pixels exactly 0, as in Fashion-MNIST.
  for (float& v : x.values()) {
    const double u = rng.uniform_double();
    v = u < 0.5 ? 0.0f : static_cast<float>(u);
  }
  return x;
}

// Keras inference formulas in double: BN y = gamma·(x − mean)/sqrt(var + eps) + beta,
// Dense y = act(x·W + b), ELU, softmax.
std::vector<double> reference_forward(const Model& model, const float* x) {
  std::vector<double> h(x, x + 784);
  for (int64_t l = 1; l < model.num_layers(); ++l) {
    const Layer& layer = model.layer(l);
    const auto& v = layer.variables();
    if (layer.class_name() == "BatchNormalization") {
      const double eps = layer.get_config()["epsilon"].get<double>();
      for (size_t c = 0; c < h.size(); ++c) {
        h[c] = v[0].value[c] * (h[c] - v[2].value[c]) / std::sqrt(double(v[3].value[c]) + eps) +
               v[1].value[c];
      }
      continue;
    }
    const int64_t fan_in = v[0].shape[0], units = v[0].shape[1];
    std::vector<double> z(static_cast<size_t>(units));
    for (int64_t j = 0; j < units; ++j) {
      double s = v[1].value[j];
      for (int64_t i = 0; i < fan_in; ++i) s += h[size_t(i)] * v[0].value[i * units + j];
      z[size_t(j)] = s;
    }
    if (layer.get_config()["activation"] == "elu") {
      for (double& s : z) s = s > 0 ? s : std::expm1(s);
    } else {  // softmax
      double mx = z[0], sum = 0;
      for (double s : z) mx = std::max(mx, s);
      for (double& s : z) sum += (s = std::exp(s - mx));
      for (double& s : z) s /= sum;
    }
    h = std::move(z);
  }
  return h;
}

TEST(PredictB1, SeedModelMatchesADoublePrecisionForward) {
  Model model = random_seed_model();
  const Tensor x = random_images(6, 5);
  for (int64_t s = 0; s < 6; ++s) {
    const Tensor one({1, 28, 28}, {x.data() + s * 784, 784});
    const Tensor y = model.predict(one, 1);
    const std::vector<double> ref = reference_forward(model, x.data() + s * 784);
    ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 10}));
    for (int64_t k = 0; k < 10; ++k) EXPECT_NEAR(y[k], ref[size_t(k)], 2e-6) << "sample " << s;
  }
}

TEST(PredictB1, SameBitsWithOneOrTwoThreads) {
  Model model = random_seed_model();
  const Tensor x = random_images(8, 6);
  const int saved = num_threads();
  std::vector<Tensor> out;
  for (int threads : {1, 2, 1, 2}) {
    set_num_threads(threads);
    Tensor all({8, 10});
    for (int64_t s = 0; s < 8; ++s) {
      const Tensor y = model.predict(Tensor({1, 28, 28}, {x.data() + s * 784, 784}), 1);
      std::copy_n(y.data(), 10, all.data() + s * 10);
    }
    out.push_back(all);
  }
  set_num_threads(saved);
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_EQ(std::memcmp(out[0].data(), out[i].data(), 80 * sizeof(float)), 0) << "run " << i;
  }
}

TEST(PredictB1, PredictIntoGivesTheSameBitsAsPredict) {
  Model model = random_seed_model();
  const Tensor x = random_images(5, 7);
  for (int64_t batch : {1, 2, 32}) {
    const Tensor expected = model.predict(x, batch);
    std::vector<float> out(50, -1.0f);
    model.predict_into(x.values(), out, batch);
    EXPECT_EQ(std::memcmp(expected.data(), out.data(), 50 * sizeof(float)), 0) << batch;
  }
  std::vector<float> one(10);
  model.predict_into({x.data(), 784}, one, 1);
  const Tensor first = model.predict(Tensor({1, 28, 28}, {x.data(), 784}), 1);
  EXPECT_EQ(std::memcmp(first.data(), one.data(), 10 * sizeof(float)), 0);
}

TEST(PredictB1, PredictIntoRejectsMismatchedBuffers) {
  Model model = random_seed_model();
  std::vector<float> x(784 * 2), out(20);
  EXPECT_THROW(model.predict_into({x.data(), 785}, out), Error);       // not whole samples
  EXPECT_THROW(model.predict_into(x, {out.data(), 10}), Error);        // output too small
  EXPECT_THROW(model.predict_into(x, out, 0), Error);                  // batch size
  try {
    model.predict_into(x, {out.data(), 19});
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 19 values but 2 samples need 20"),
              std::string::npos) << e.what();
  }
}

TEST(PredictB1, TensorPredictKeepsItsChecks) {
  Model model = random_seed_model();
  EXPECT_THROW(model.predict(Tensor({1, 27, 28}), 1), Error);
  EXPECT_THROW(model.predict(Tensor({1, 28, 28}), 0), Error);
  EXPECT_THROW(model.predict(Tensor(std::vector<int64_t>{}), 1), Error);
  const Tensor none = model.predict(Tensor({0, 28, 28}), 1);
  EXPECT_EQ(none.dims(), (std::vector<int64_t>{0, 10}));
}

}  // namespace
}  // namespace keel
