#include "keel/kernels/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <thread>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/threads.h"

namespace keel {
namespace {

std::vector<float> random_matrix(int64_t n, uint64_t seed) {
  Rng rng(seed, 7);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.uniform_double() * 2.0 - 1.0);
  return v;
}

void expect_matches_ref(int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool acc) {
  const auto a = random_matrix(m * k, 1 + m);
  const auto b = random_matrix(k * n, 2 + n);
  auto c = random_matrix(m * n, 3 + k);  // nonzero start: accumulate must read it, overwrite must not
  auto c_ref = c;
  gemm(a.data(), b.data(), c.data(), m, n, k, ta, tb, acc);
  gemm_ref(a.data(), b.data(), c_ref.data(), m, n, k, ta, tb, acc);
  const double tol = 1e-5 * std::sqrt(static_cast<double>(k) + 1.0) * 4;
  for (int64_t i = 0; i < m * n; ++i) {
    ASSERT_NEAR(c[size_t(i)], c_ref[size_t(i)], tol)
        << "m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " acc=" << acc
        << " at " << i;
  }
}

TEST(KernelsGemm, MatchesReferenceAtAwkwardSizes) {
  const int64_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 64, 65};
  for (int64_t s : sizes) {
    for (int variant = 0; variant < 8; ++variant) {
      const bool ta = variant & 1, tb = variant & 2, acc = variant & 4;
      expect_matches_ref(s, s, s, ta, tb, acc);
    }
  }
  // Odd, mutually different M/N/K, including the three Dense products of a 784-300 layer slice.
  const int64_t shapes[][3] = {{3, 5, 7}, {17, 1, 9}, {1, 65, 15}, {33, 300, 19}, {19, 33, 300},
                               {65, 9, 1}};
  for (const auto& s : shapes) {
    for (int variant = 0; variant < 8; ++variant) {
      expect_matches_ref(s[0], s[1], s[2], variant & 1, variant & 2, variant & 4);
    }
  }
}

TEST(KernelsGemm, ClosedForm) {
  // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  float c[4] = {100, 100, 100, 100};
  gemm(a, b, c, 2, 2, 2, false, false, false);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{19, 22, 43, 50}));
  gemm(a, b, c, 2, 2, 2, false, false, true);  // accumulate: doubles
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{38, 44, 86, 100}));
  // aᵀ·b with a stored (k=2, m=2): [1 3; 2 4]·[5 6; 7 8] = [26 30; 38 44]
  gemm(a, b, c, 2, 2, 2, true, false, false);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{26, 30, 38, 44}));
}

TEST(KernelsGemm, ZeroInnerDimension) {
  float c[2] = {5, 6};
  gemm(nullptr, nullptr, c, 1, 2, 0, false, false, true);
  EXPECT_EQ(c[0], 5);
  gemm(nullptr, nullptr, c, 1, 2, 0, false, false, false);
  EXPECT_EQ(c[0], 0);
}

TEST(KernelsGemm, PrimitivesAreCachedPerShape) {
  std::thread([] {  // a fresh thread has an empty cache
    // m = 8: above the small-M path, so oneDNN primitives are used.
    const auto a = random_matrix(32, 1), b = random_matrix(12, 2);
    std::vector<float> c(24);
    gemm(a.data(), b.data(), c.data(), 8, 3, 4, false, false, false);
    gemm(a.data(), b.data(), c.data(), 8, 3, 4, false, false, false);
    EXPECT_EQ(gemm_cache_size(), 1);
    gemm(a.data(), b.data(), c.data(), 8, 3, 4, false, false, true);
    EXPECT_EQ(gemm_cache_size(), 2);
    gemm(a.data(), b.data(), c.data(), 1, 3, 4, false, false, false);  // small-M: no primitive
    EXPECT_EQ(gemm_cache_size(), 2);
  }).join();
}

// DESIGN.md testing habit 8: bits must not depend on the thread count. The weight-gradient product
// (reduction over the batch) is the one where a parallel split of K could change the sum order.
TEST(KernelsGemm, ResultsIndependentOfThreadCount) {
  // oneDNN 2.6 runs f32 matmuls with its AVX-512 brgemm kernels where the CPU has AVX-512, whose
  // reduction order does not depend on the thread count; without AVX-512 it falls back to
  // gemm:jit (AVX2), which splits the reduction differently for 1, 2 or 3 threads and so rounds
  // differently (seen on the AMD EPYC machines without AVX-512, 2026-12-01). keel claims
  // thread-count bit-identity only where the first holds; README "Determinism" says so.
  if (!__builtin_cpu_supports("avx512f")) {
    GTEST_SKIP() << "no AVX-512 on this CPU: oneDNN's AVX2 gemm:jit is not thread-count invariant";
  }
  const int saved = num_threads();
  const int64_t shapes[][3] = {{784, 300, 256}, {300, 100, 32}, {100, 10, 257}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    const auto a = random_matrix(k * m, 11), b = random_matrix(k * n, 12);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::vector<float> c(static_cast<size_t>(m * n), 0.5f);
      gemm(a.data(), b.data(), c.data(), m, n, k, true, false, true);  // dW += xᵀ·dy
      std::vector<float> fwd(static_cast<size_t>(k * n));
      gemm(a.data(), c.data(), fwd.data(), k, n, m, false, false, false);  // y = x·W
      c.insert(c.end(), fwd.begin(), fwd.end());
      results.push_back(std::move(c));
    }
    EXPECT_EQ(results[0], results[1]) << "1 vs 2 threads, m=" << m;
    EXPECT_EQ(results[0], results[2]) << "1 vs 3 threads, m=" << m;
  }
  set_num_threads(saved);
}

TEST(KernelsThreads, RejectsNonPositive) {
  EXPECT_THROW(set_num_threads(0), Error);
}


// The fused Dense forward: oneDNN's bias argument and ELU post-op against a double-precision
// reference written from the formula (x·W + b, then z > 0 ? z : expm1(z)).
TEST(KernelsGemm, BiasActivationEpilogueMatchesFormula) {
  for (const ActivationKind kind : {ActivationKind::kElu, ActivationKind::kLinear}) {
    for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{2, 3, 5}, {32, 300, 784},
                                  {7, 100, 300}, {256, 17, 33}}) {
      const auto x = random_matrix(m * k, 10 + m), w = random_matrix(k * n, 20 + n);
      const auto bias = random_matrix(n, 30 + k);
      std::vector<float> y(static_cast<size_t>(m * n), -7.0f);
      ASSERT_TRUE(gemm_bias_activation(x.data(), w.data(), bias.data(), y.data(), m, n, k, kind));
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double z = bias[static_cast<size_t>(j)], magnitude = std::abs(z);
          for (int64_t p = 0; p < k; ++p) {
            const double term = static_cast<double>(x[i * k + p]) * w[p * n + j];
            z += term;
            magnitude += std::abs(term);
          }
          const double want = kind == ActivationKind::kElu && z <= 0.0 ? std::expm1(z) : z;
          // float accumulation over k terms: error grows with Σ|terms|, not with |z|
          ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], want, 1e-6 * (1.0 + magnitude))
              << "m=" << m << " n=" << n << " k=" << k << " at (" << i << ", " << j << ")";
        }
      }
    }
  }
}

TEST(KernelsGemm, BiasActivationEpilogueDeclinesWhatItDoesNotFuse) {
  const auto x = random_matrix(8, 1), w = random_matrix(8, 2), bias = random_matrix(4, 3);
  std::vector<float> y(8, 5.0f);
  // One row (single-sample predict uses matvec), no bias, other activations: caller's fallback.
  EXPECT_FALSE(gemm_bias_activation(x.data(), w.data(), bias.data(), y.data(), 1, 4, 2, ActivationKind::kElu));
  EXPECT_FALSE(gemm_bias_activation(x.data(), w.data(), nullptr, y.data(), 2, 4, 2, ActivationKind::kElu));
  EXPECT_FALSE(gemm_bias_activation(x.data(), w.data(), bias.data(), y.data(), 2, 4, 2, ActivationKind::kSoftmax));
  for (float v : y) EXPECT_EQ(v, 5.0f);  // nothing written when declined
}

}  // namespace
}  // namespace keel
