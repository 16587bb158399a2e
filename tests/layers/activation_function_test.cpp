#include "keel/layers/activation_function.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"

namespace keel {
namespace {

const ActivationKind kAll[] = {ActivationKind::kLinear,  ActivationKind::kRelu,
                               ActivationKind::kElu,     ActivationKind::kSelu,
                               ActivationKind::kLeakyRelu, ActivationKind::kTanh,
                               ActivationKind::kSigmoid, ActivationKind::kSoftmax,
                               ActivationKind::kSoftplus, ActivationKind::kGelu,
                               ActivationKind::kSwish,   ActivationKind::kHardSigmoid};

TEST(LayersActivationFunction, ParsesKerasIdentifiers) {
  EXPECT_EQ(ActivationFunction().kind(), ActivationKind::kLinear);
  EXPECT_EQ(ActivationFunction("").kind(), ActivationKind::kLinear);
  EXPECT_EQ(ActivationFunction("None").kind(), ActivationKind::kLinear);
  EXPECT_EQ(ActivationFunction("silu").kind(), ActivationKind::kSwish);
  EXPECT_EQ(ActivationFunction("silu").keras_name(), "swish");
  for (const char* name : {"linear", "relu", "elu", "selu", "leaky_relu", "tanh", "sigmoid",
                           "softmax", "softplus", "gelu", "swish", "hard_sigmoid"}) {
    EXPECT_EQ(ActivationFunction(name).keras_name(), name);
  }
  try {
    ActivationFunction("rleu");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'rleu'"), std::string::npos) << e.what();
  }
}

// Closed forms in double, from the definitions (keras-semantics / TF docs), not from the kernels.
double reference(ActivationKind kind, double z) {
  switch (kind) {
    case ActivationKind::kLinear: return z;
    case ActivationKind::kRelu: return z > 0 ? z : 0;
    case ActivationKind::kElu: return z > 0 ? z : std::exp(z) - 1;
    case ActivationKind::kSelu:
      return 1.0507009873554805 * (z > 0 ? z : 1.6732632423543772 * (std::exp(z) - 1));
    case ActivationKind::kLeakyRelu: return z > 0 ? z : 0.2 * z;
    case ActivationKind::kTanh: return std::tanh(z);
    case ActivationKind::kSigmoid: return 1 / (1 + std::exp(-z));
    case ActivationKind::kSoftplus: return std::log(1 + std::exp(z));
    case ActivationKind::kGelu: return 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
    case ActivationKind::kSwish: return z / (1 + std::exp(-z));
    case ActivationKind::kHardSigmoid: return std::clamp(0.2 * z + 0.5, 0.0, 1.0);
    case ActivationKind::kSoftmax: return NAN;
  }
  return NAN;
}

TEST(LayersActivationFunction, ForwardMatchesClosedForms) {
  const std::vector<float> z = {-3.5f, -1.25f, -0.3f, 0.0f, 0.4f, 1.0f, 2.75f};
  for (ActivationKind kind : kAll) {
    if (kind == ActivationKind::kSoftmax) continue;
    std::vector<float> y(z.size());
    activation_forward(kind, z.data(), y.data(), 1, static_cast<int64_t>(z.size()));
    for (size_t i = 0; i < z.size(); ++i) {
      EXPECT_NEAR(y[i], reference(kind, z[i]), 2e-6 * std::max(1.0, std::fabs(reference(kind, z[i]))))
          << "kind " << int(kind) << " z=" << z[i];
    }
  }
}

TEST(LayersActivationFunction, SoftmaxIsStableAndRowWise) {
  const std::vector<float> z = {1000.0f, 1001.0f, 1002.0f, -1000.0f, 0.0f, 1000.0f};
  std::vector<float> y(6);
  activation_forward(ActivationKind::kSoftmax, z.data(), y.data(), 2, 3);
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0);
  EXPECT_NEAR(y[2], 1 / (1 + e1 + e2), 1e-6);
  EXPECT_NEAR(y[1], e1 / (1 + e1 + e2), 1e-6);
  EXPECT_NEAR(y[5], 1.0, 1e-6);
  EXPECT_EQ(y[3], 0.0f);
  // In place.
  std::vector<float> zz = z;
  activation_forward(ActivationKind::kSoftmax, zz.data(), zz.data(), 2, 3);
  EXPECT_EQ(zz, y);
}

// Finite differences on the float kernels, at points away from the kinks; softmax couples a row,
// so every (row, column) pair is perturbed.
TEST(LayersActivationFunction, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, cols = 4;
  const std::vector<float> z = {-2.1f, -0.7f, 0.35f, 1.6f, 0.8f, -1.3f, 2.2f, -0.15f,
                                0.05f, 3.1f, -3.3f, 0.55f};
  const std::vector<float> w = {0.3f, -1.1f, 0.7f, 0.25f, -0.5f, 0.9f, 1.3f, -0.2f,
                                0.6f, -0.8f, 0.15f, 1.0f};
  for (ActivationKind kind : kAll) {
    std::vector<float> y(z.size()), dz(z.size());
    activation_forward(kind, z.data(), y.data(), rows, cols);
    activation_backward(kind, z.data(), y.data(), w.data(), dz.data(), rows, cols);
    for (size_t i = 0; i < z.size(); ++i) {
      const double h = 1e-3;
      auto loss = [&](float zi) {
        std::vector<float> zp = z, yp(z.size());
        zp[i] = zi;
        activation_forward(kind, zp.data(), yp.data(), rows, cols);
        double l = 0;
        for (size_t j = 0; j < yp.size(); ++j) l += double(w[j]) * yp[j];
        return l;
      };
      const double numeric = (loss(z[i] + float(h)) - loss(z[i] - float(h))) / (2 * h);
      EXPECT_NEAR(dz[i], numeric, 2e-3 * std::max(1.0, std::fabs(numeric)))
          << "kind " << int(kind) << " at " << i;
    }
    // dz may alias dy.
    std::vector<float> inplace = w;
    activation_backward(kind, z.data(), y.data(), inplace.data(), inplace.data(), rows, cols);
    EXPECT_EQ(inplace, dz) << "kind " << int(kind);
  }
}

TEST(LayersActivationFunction, GradientsAtTheKinkFollowTf) {
  const float z = 0.0f, dy = 1.0f;
  auto grad = [&](ActivationKind kind) {
    float y, dz;
    activation_forward(kind, &z, &y, 1, 1);
    activation_backward(kind, &z, &y, &dy, &dz, 1, 1);
    return dz;
  };
  EXPECT_EQ(grad(ActivationKind::kRelu), 0.0f);        // TF ReluGrad: features > 0
  EXPECT_EQ(grad(ActivationKind::kElu), 1.0f);         // TF EluGrad: y < 0 ? y+1 : 1
  EXPECT_EQ(grad(ActivationKind::kSelu), kSeluScale);  // TF SeluGrad: y < 0 ? ... : scale
  EXPECT_EQ(grad(ActivationKind::kLeakyRelu), 0.2f);   // TF LeakyReluGrad: x > 0 ? 1 : alpha
  // Values at the kink.
  float y;
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kElu, ActivationKind::kSelu,
                              ActivationKind::kLeakyRelu}) {
    activation_forward(kind, &z, &y, 1, 1);
    EXPECT_EQ(y, 0.0f);
  }
}

TEST(LayersActivationFunction, SaturatedSigmoidAndSoftplusStayFinite) {
  const std::vector<float> z = {-200.0f, 200.0f};
  std::vector<float> y(2), dz(2);
  const std::vector<float> dy = {1.0f, 1.0f};
  for (ActivationKind kind : {ActivationKind::kSigmoid, ActivationKind::kSoftplus, ActivationKind::kSwish}) {
    activation_forward(kind, z.data(), y.data(), 1, 2);
    activation_backward(kind, z.data(), y.data(), dy.data(), dz.data(), 1, 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(std::isfinite(y[i]) && std::isfinite(dz[i])) << int(kind);
    }
  }
}

}  // namespace
}  // namespace keel
