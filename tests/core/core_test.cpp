#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/core/shape.h"
#include "keel/core/tensor.h"

namespace keel {

TEST(CoreShape, PrintsLikePythonTuples) {
  EXPECT_EQ(Shape::batched({784}).to_string(), "(None, 784)");
  EXPECT_EQ(Shape::batched({28, 28}).to_string(), "(None, 28, 28)");
  EXPECT_EQ(Shape::batched({}).to_string(), "(None,)");
  EXPECT_EQ(Shape({3}).to_string(), "(3,)");
  EXPECT_EQ(Shape::batched({28, 28}).sample_size(), 784);
}

TEST(CoreTensor, IsAlignedZeroedAndCopiesDeeply) {
  Tensor t({3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (float v : t.values()) EXPECT_EQ(v, 0.0f);
  t[7] = 2.5f;
  Tensor copy = t;
  copy[7] = 1.0f;
  EXPECT_EQ(t[7], 2.5f);
  EXPECT_EQ(t.row_size(), 5);
  // The row width also without rows (callers size outputs and check widths from it).
  EXPECT_EQ(Tensor({0, 28, 28}).row_size(), 784);
  EXPECT_EQ(Tensor({4}).row_size(), 1);
  EXPECT_THROW(t.reshape({4, 4}), Error);
  EXPECT_THROW(Tensor({-1}), Error);
}

TEST(CoreRng, IsDeterministicPerSeedAndStream) {
  Rng a(7), b(7), c(7, 1), d(8);
  const uint64_t va = a.next_u64();
  EXPECT_EQ(va, b.next_u64());
  EXPECT_NE(va, c.next_u64());
  EXPECT_NE(va, d.next_u64());
  Rng e(7);
  Rng::State s = e.state();
  const double x = e.normal();
  e.set_state(s);
  EXPECT_EQ(x, e.normal());
}

TEST(CoreRng, UniformAndNormalHaveTheRightMoments) {
  Rng rng(123);
  constexpr int kN = 200000;
  double sum = 0, sum_sq = 0, usum = 0;
  for (int i = 0; i < kN; ++i) {
    const double z = rng.normal();
    sum += z;
    sum_sq += z * z;
    const float u = rng.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    usum += u;
  }
  EXPECT_NEAR(sum / kN, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / kN, 1.0, 0.01);
  EXPECT_NEAR(usum / kN, 0.5, 0.005);
}

TEST(CoreRng, UniformIntCoversRangeWithoutBias) {
  Rng rng(5);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) counts[rng.uniform_int(7)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(CoreError, CheckBuildsMessagesFromParts) {
  try {
    KEEL_CHECK(1 + 1 == 3, "flag --epochs: ", -4, " must be >= 1");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "flag --epochs: -4 must be >= 1");
  }
}

}  // namespace keel
