#include "keel/kernels/matvec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "keel/core/rng.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/threads.h"

namespace keel {
namespace {

std::vector<float> random_values(int64_t n, uint64_t seed) {
  Rng rng(seed, 11);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.uniform_double() * 2.0 - 1.0);
  return v;
}

// The documented order, one float multiply and one float add per term, row by row. Compiled for
// baseline x86-64 (no FMA to contract into), so it is an exact oracle for the bits.
std::vector<float> ordered_sum(const std::vector<float>& x, const std::vector<float>& w,
                              std::vector<float> y, int64_t k, int64_t n, bool accumulate) {
  for (int64_t j = 0; j < n; ++j) {
    float acc = accumulate ? y[size_t(j)] : 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float term = x[size_t(p)] * w[size_t(p * n + j)];
      acc = acc + term;
    }
    y[size_t(j)] = acc;
  }
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// W is an exactly sized heap block, so a read past its end shows under ASan (the kernel reads
// whole 16-column vectors and must fall back to single lanes on the last rows).
void check_shape(int64_t k, int64_t n, bool accumulate) {
  const auto x = random_values(k, 1 + k);
  const auto w = random_values(k * n, 2 + n);
  const auto y0 = random_values(n, 3 + k + n);  // nonzero start: overwrite must ignore it
  auto y = y0, y_ref = y0;
  matvec(x.data(), w.data(), y.data(), k, n, accumulate);
  gemm_ref(x.data(), w.data(), y_ref.data(), 1, n, k, false, false, accumulate);
  const double tol = 1e-5 * std::sqrt(static_cast<double>(k) + 1.0) * 4;
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_NEAR(y[size_t(j)], y_ref[size_t(j)], tol)
        << "k=" << k << " n=" << n << " accumulate=" << accumulate << " at " << j;
  }
  ASSERT_TRUE(same_bits(y, ordered_sum(x, w, y0, k, n, accumulate)))
      << "k=" << k << " n=" << n << " accumulate=" << accumulate;
  auto y_serial = y0;
  matvec_serial(x.data(), w.data(), y_serial.data(), k, n, accumulate);
  ASSERT_TRUE(same_bits(y, y_serial)) << "k=" << k << " n=" << n;
}

TEST(KernelsMatvec, MatchesReferenceAndTheDocumentedOrderAtAwkwardShapes) {
  // Columns: below one vector, one vector ± 1, the seed's widths, past one 512-column block.
  const int64_t columns[] = {1, 7, 15, 16, 17, 100, 300, 513, 784};
  const int64_t fan_ins[] = {1, 2, 3, 4, 5, 9, 100, 300, 784, 1000};
  for (int64_t n : columns)
    for (int64_t k : fan_ins)
      for (bool acc : {false, true}) check_shape(k, n, acc);
}

TEST(KernelsMatvec, GemmWithOneRowTakesTheSamePath) {
  const int64_t k = 300, n = 100;
  const auto x = random_values(k, 5), w = random_values(k * n, 6);
  std::vector<float> y(static_cast<size_t>(n)), y_mv(static_cast<size_t>(n));
  gemm(x.data(), w.data(), y.data(), 1, n, k, false, false, false);
  matvec(x.data(), w.data(), y_mv.data(), k, n, false);
  EXPECT_TRUE(same_bits(y, y_mv));
}

TEST(KernelsMatvec, EmptyProducts) {
  std::vector<float> y = {1.0f, 2.0f, 3.0f};
  matvec(nullptr, nullptr, y.data(), 0, 3, true);
  EXPECT_EQ(y, (std::vector<float>{1.0f, 2.0f, 3.0f}));
  matvec(nullptr, nullptr, y.data(), 0, 3, false);
  EXPECT_EQ(y, (std::vector<float>{0.0f, 0.0f, 0.0f}));
  matvec(nullptr, nullptr, nullptr, 5, 0, false);  // no columns: nothing read or written
}

TEST(KernelsMatvec, NonFiniteWeightsPropagateAndStayInTheirColumn) {
  // A zero input times an infinite weight is NaN in that column (no term is skipped), and the
  // lanes a whole-vector read takes from the next row of W never reach another column.
  const int64_t k = 40, n = 17;
  auto x = random_values(k, 8);
  auto w = random_values(k * n, 9);
  x[3] = 0.0f;
  w[size_t(3 * n + 5)] = std::numeric_limits<float>::infinity();
  for (int64_t p = 0; p < k; ++p) w[size_t(p * n)] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y(static_cast<size_t>(n));
  matvec(x.data(), w.data(), y.data(), k, n, false);
  for (int64_t j = 0; j < n; ++j) {
    if (j == 0 || j == 5) {
      EXPECT_TRUE(std::isnan(y[size_t(j)])) << j;
    } else {
      EXPECT_TRUE(std::isfinite(y[size_t(j)])) << j;
    }
  }
}

TEST(KernelsMatvec, SameBitsWhateverTheThreadCount) {
  // 784×300 is above the threshold where the columns are split over the threads.
  const int64_t k = 784, n = 300;
  const auto x = random_values(k, 12), w = random_values(k * n, 13);
  const int saved = num_threads();
  std::vector<std::vector<float>> out;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<float> y(static_cast<size_t>(n));
    matvec(x.data(), w.data(), y.data(), k, n, false);
    out.push_back(y);
  }
  set_num_threads(saved);
  EXPECT_TRUE(same_bits(out[0], out[1]));
  EXPECT_TRUE(same_bits(out[0], out[2]));
}

}  // namespace
}  // namespace keel
