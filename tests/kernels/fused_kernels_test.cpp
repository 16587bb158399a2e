// The vectorised elementwise kernels against their scalar references (issue 4): ELU with the
// polynomial exp, the fused activation + bias backward, BN apply, and the small-M GEMM path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "keel/core/rng.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/batch_norm.h"
#include "keel/kernels/bias.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/threads.h"

namespace keel {
namespace {

std::vector<float> random_vec(int64_t n, uint64_t seed, double scale = 3.0) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

TEST(KernelsFused, EluMatchesLibmWithinTwoUlpAndKeepsTheKink) {
  std::vector<float> z;
  for (float v = -100.0f; v <= 3.0f; v += 0.0137f) z.push_back(v);
  z.push_back(0.0f);
  z.push_back(-0.0f);
  z.push_back(-1e-30f);
  std::vector<float> y(z.size()), y_ref(z.size());
  activation_forward(ActivationKind::kElu, z.data(), y.data(), 1, int64_t(z.size()));
  activation_forward_ref(ActivationKind::kElu, z.data(), y_ref.data(), 1, int64_t(z.size()));
  for (size_t i = 0; i < z.size(); ++i) {
    // exp(z) - 1 in float: an error of 2 ulp of exp(z) (<= 1) is at most 2^-23 absolute.
    ASSERT_NEAR(y[i], y_ref[i], 2.4e-7f) << "z=" << z[i];
  }
  EXPECT_EQ(y[z.size() - 3], 0.0f);                   // elu(0) = 0
  EXPECT_EQ(y[z.size() - 1], y_ref[z.size() - 1]);    // tiny negatives: exp - 1 = 0 exactly
  EXPECT_EQ(y_ref[0], -1.0f);
  EXPECT_EQ(y[0], -1.0f);  // saturates like expf
  // Backward at the kink y == 0 uses slope 1 (TF EluGrad), also through the fused bias path.
  const float y0 = 0.0f, dy = 3.0f;
  float dz = 0.0f, db = 0.0f;
  activation_bias_backward(ActivationKind::kElu, nullptr, &y0, &dy, &dz, &db, 1, 1);
  EXPECT_EQ(dz, 3.0f);
  EXPECT_EQ(db, 3.0f);
}

// The vectorised softmax against libm's (reference) one: row lengths that leave vector tails and
// rows longer than a vector, logits far apart (exp flushes to 0 like Eigen's), in place too.
TEST(KernelsFused, SoftmaxMatchesLibmReference) {
  for (int64_t cols : {1, 3, 10, 17, 40}) {
    const int64_t rows = 13;
    std::vector<float> z = random_vec(rows * cols, 11 + static_cast<uint64_t>(cols), 6.0);
    z[0] = 200.0f;  // every other logit of row 0 is > 87 below it: probability exactly 0
    std::vector<float> y(z.size()), y_ref(z.size()), e(z.size());
    activation_forward(ActivationKind::kSoftmax, z.data(), y.data(), rows, cols);
    activation_forward_ref(ActivationKind::kSoftmax, z.data(), y_ref.data(), rows, cols);
    softmax_exponentials(z.data(), e.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      float zmax = z[size_t(r * cols)];
      for (int64_t k = 1; k < cols; ++k) zmax = std::max(zmax, z[size_t(r * cols + k)]);
      for (int64_t k = 0; k < cols; ++k) {
        const size_t i = size_t(r * cols + k);
        ASSERT_NEAR(y[i], y_ref[i], 4e-7f * std::max(1e-30f, y_ref[i]) + 1e-37f) << r << "," << k;
        const double exact = std::exp(static_cast<double>(z[i] - zmax));
        ASSERT_NEAR(e[i], exact, 2.5e-7 * exact + 2e-38) << r << "," << k;
      }
    }
    for (int64_t k = 1; k < cols; ++k) EXPECT_EQ(y[size_t(k)], 0.0f);
    EXPECT_EQ(y[0], 1.0f);
    std::vector<float> in_place = z;
    activation_forward(ActivationKind::kSoftmax, in_place.data(), in_place.data(), rows, cols);
    EXPECT_EQ(in_place, y);
  }
}

TEST(KernelsFused, ActivationBiasBackwardMatchesReference) {
  for (int64_t rows : {1, 3, 7, 8, 9, 17, 64, 65, 300}) {
    for (int64_t cols : {1, 7, 15, 16, 17, 64, 65, 130, 300}) {
      for (ActivationKind kind : {ActivationKind::kElu, ActivationKind::kLinear,
                                  ActivationKind::kRelu, ActivationKind::kTanh}) {
        const auto z = random_vec(rows * cols, uint64_t(rows * 31 + cols));
        std::vector<float> y(z.size());
        activation_forward_ref(kind, z.data(), y.data(), rows, cols);
        const auto dy = random_vec(rows * cols, 77);
        std::vector<float> dz(z.size()), dz_r(z.size()), db(cols, 0.25f), db_r(cols, 0.25f);
        activation_bias_backward(kind, z.data(), y.data(), dy.data(), dz.data(), db.data(), rows, cols);
        activation_bias_backward_ref(kind, z.data(), y.data(), dy.data(), dz_r.data(), db_r.data(),
                                     rows, cols);
        ASSERT_EQ(dz, dz_r) << rows << "x" << cols;  // same formula, elementwise: exact
        for (int64_t j = 0; j < cols; ++j)
          ASSERT_NEAR(db[j], db_r[j], 1e-5 * (1 + std::fabs(db_r[j]))) << rows << "x" << cols;
        // In place (dz == dy) gives the same.
        auto inplace = dy;
        std::vector<float> db2(cols, 0.25f);
        activation_bias_backward(kind, z.data(), y.data(), inplace.data(), inplace.data(),
                                 db2.data(), rows, cols);
        ASSERT_EQ(inplace, dz);
        ASSERT_EQ(db2, db);
      }
    }
  }
}

// ReLU runs on the whole team above kParallelMinElements: the same bits as the scalar reference at
// every thread count, in place too, with -0 and NaN inputs (both give +0, as `z > 0 ? z : 0`).
TEST(KernelsFused, ReluMatchesReferenceAtEveryThreadCount) {
  const int saved = num_threads();
  for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{100003}}) {
    auto z = random_vec(n, uint64_t(n));
    z[0] = -0.0f;
    if (n > 1) z[1] = std::numeric_limits<float>::quiet_NaN();
    const auto dy = random_vec(n, 9);
    std::vector<float> y_r(static_cast<size_t>(n)), dz_r(static_cast<size_t>(n));
    activation_forward_ref(ActivationKind::kRelu, z.data(), y_r.data(), 1, n);
    activation_backward_ref(ActivationKind::kRelu, z.data(), y_r.data(), dy.data(), dz_r.data(), 1, n);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::vector<float> y(static_cast<size_t>(n)), dz(static_cast<size_t>(n));
      activation_forward(ActivationKind::kRelu, z.data(), y.data(), 1, n);
      activation_backward(ActivationKind::kRelu, z.data(), y.data(), dy.data(), dz.data(), 1, n);
      ASSERT_EQ(0, std::memcmp(y.data(), y_r.data(), y.size() * sizeof(float))) << n << ", " << threads;
      ASSERT_EQ(0, std::memcmp(dz.data(), dz_r.data(), dz.size() * sizeof(float))) << n << ", " << threads;
      auto in_place = z;
      activation_forward(ActivationKind::kRelu, in_place.data(), in_place.data(), 1, n);
      ASSERT_EQ(0, std::memcmp(in_place.data(), y_r.data(), y.size() * sizeof(float)));
    }
  }
  set_num_threads(saved);
}

TEST(KernelsFused, BatchNormApplyMatchesReference) {
  for (int64_t outer : {1, 3, 17, 256}) {
    for (int64_t channels : {1, 7, 16, 17, 784}) {
      const auto x = random_vec(outer * channels, 5), scale = random_vec(channels, 6),
                 shift = random_vec(channels, 7);
      std::vector<float> y(x.size()), y_r(x.size());
      batch_norm_apply(x.data(), scale.data(), shift.data(), y.data(), outer, channels, 1);
      batch_norm_apply_ref(x.data(), scale.data(), shift.data(), y_r.data(), outer, channels, 1);
      ASSERT_EQ(y, y_r);
    }
  }
}

TEST(KernelsFused, SmallGemmAccumulatesAndMatchesReference) {
  for (int64_t m : {1, 2}) {
    for (int64_t n : {1, 10, 63, 64, 65, 300}) {
      for (int64_t k : {1, 100, 784}) {
        const auto a = random_vec(m * k, 1, 1.0), b = random_vec(k * n, 2, 1.0);
        for (bool acc : {false, true}) {
          std::vector<float> c(size_t(m * n), 0.5f), c_r(size_t(m * n), 0.5f);
          gemm(a.data(), b.data(), c.data(), m, n, k, false, false, acc);
          gemm_ref(a.data(), b.data(), c_r.data(), m, n, k, false, false, acc);
          for (size_t i = 0; i < c.size(); ++i)
            ASSERT_NEAR(c[i], c_r[i], 1e-4 * (1 + std::sqrt(double(k)))) << m << "x" << n << "x" << k;
        }
      }
    }
  }
}

}  // namespace
}  // namespace keel
