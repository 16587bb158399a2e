// bfloat16 conversion against tf.cast (tests/data/mixed_precision/rounding.json, written by
// tools/golden/mixed_precision_keras.py), and the bf16 GEMM on each kind of kernel.
#include "keel/kernels/bf16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/kernels/conv.h"
#include "keel/kernels/gemm.h"
#include "test_util.h"
#include "kernels/bf16_kernels_scope.h"

namespace keel {
namespace {

using testing::Bf16KernelsScope;

float float_of_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(gen);
  return v;
}

TEST(Bf16, RoundsAsTfCast) {
  std::ifstream in(std::filesystem::path(KEEL_SOURCE_DIR) / "tests/data/mixed_precision/rounding.json");
  ASSERT_TRUE(in.good());
  const auto doc = nlohmann::json::parse(in);
  ASSERT_GT(doc["cases"].size(), 400u);
  std::vector<float> xs;
  std::vector<uint16_t> expected;
  for (const auto& c : doc["cases"]) {
    xs.push_back(float_of_bits(c[0].get<uint32_t>()));
    expected.push_back(c[1].get<uint16_t>());
    EXPECT_EQ(to_bf16(xs.back()), expected.back()) << std::hex << "f32 bits 0x" << c[0].get<uint32_t>();
  }
  // The array form (parallel above the threshold) gives the same bits.
  while (xs.size() < (size_t{1} << 17)) {
    const size_t n = xs.size();
    for (size_t i = 0; i < n; ++i) {
      xs.push_back(xs[i]);
      expected.push_back(expected[i]);
    }
  }
  std::vector<uint16_t> ys(xs.size());
  to_bf16(xs.data(), ys.data(), static_cast<int64_t>(xs.size()));
  EXPECT_EQ(ys, expected);
  // Widening is exact: bf16 -> f32 -> bf16 is the identity, and round_to_bf16 is to_bf16 then widen.
  std::vector<float> wide(xs.size());
  from_bf16(ys.data(), wide.data(), static_cast<int64_t>(ys.size()));
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(to_bf16(wide[i]), ys[i]);
    if (!std::isnan(wide[i])) {
      EXPECT_EQ(static_cast<uint32_t>(ys[i]) << 16, std::bit_cast<uint32_t>(wide[i]));
    }
  }
  round_to_bf16(xs.data(), static_cast<int64_t>(xs.size()));
  for (size_t i = 0; i < 1000; ++i) {
    if (std::isnan(wide[i])) {
      EXPECT_TRUE(std::isnan(xs[i]));
    } else {
      EXPECT_EQ(xs[i], wide[i]);
    }
  }
}

// gemm_bf16 against the double-accumulating reference on the bf16 values (widened), for every
// transpose and accumulate combination, on the kernels `kernels`.
void expect_gemm_bf16_matches_reference(Bf16Kernels kernels) {
  const Bf16KernelsScope scope(kernels);
  const int64_t m = 33, n = 20, k = 47;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (bool acc : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "trans_a " << ta << " trans_b " << tb << " accumulate " << acc);
        const auto a = random_floats(m * k, 1), b = random_floats(k * n, 2), c0 = random_floats(m * n, 3);
        std::vector<uint16_t> a16(a.size()), b16(b.size());
        to_bf16(a.data(), a16.data(), m * k);
        to_bf16(b.data(), b16.data(), k * n);
        std::vector<float> aw(a.size()), bw(b.size());
        from_bf16(a16.data(), aw.data(), m * k);
        from_bf16(b16.data(), bw.data(), k * n);
        std::vector<float> expected = c0, got = c0, unrounded = c0;
        gemm_ref(aw.data(), bw.data(), expected.data(), m, n, k, ta, tb, acc);
        gemm_ref(a.data(), b.data(), unrounded.data(), m, n, k, ta, tb, acc);
        gemm_bf16(a16.data(), b16.data(), got.data(), m, n, k, ta, tb, acc);
        double max_rounding_effect = 0.0;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_NEAR(got[i], expected[i], 2e-5 * std::max(1.0f, std::fabs(expected[i]))) << "at " << i;
          max_rounding_effect = std::max(max_rounding_effect, std::fabs(double(expected[i]) - unrounded[i]));
        }
        // The operands really were bf16: their rounding shows in the products (~1e-2 here).
        EXPECT_GT(max_rounding_effect, 1e-3);
      }
    }
  }
}

TEST(Bf16, EmulatedGemmIsTheProductOfTheBf16Values) {
  expect_gemm_bf16_matches_reference(Bf16Kernels::kEmulated);
}

std::vector<float> rounded(std::vector<float> v) {
  round_to_bf16(v.data(), static_cast<int64_t>(v.size()));
  return v;
}

// The three bf16 convolutions against the double-accumulating references on rounded operands,
// with 'same' padding, a stride and groups (a DepthwiseConv2D's shape).
void expect_conv_bf16_matches_reference(Bf16Kernels kernels) {
  const Bf16KernelsScope scope(kernels);
  for (int64_t groups : {1, 4}) {
    SCOPED_TRACE(::testing::Message() << "groups " << groups);
    Conv2dGeometry g;
    g.batch = 3, g.in_h = 9, g.in_w = 8, g.in_c = 4;
    g.kernel_h = 3, g.kernel_w = 2, g.stride_h = 2, g.stride_w = 1, g.groups = groups;
    g.out_c = groups == 1 ? 6 : 8;
    const Axis1d h = conv_axis(g.in_h, g.kernel_h, true, g.stride_h, 1), w = conv_axis(g.in_w, g.kernel_w, true, 1, 1);
    g.out_h = h.out, g.out_w = w.out, g.pad_top = h.pad.before, g.pad_bottom = h.pad.after;
    g.pad_left = w.pad.before, g.pad_right = w.pad.after;
    const int64_t nx = g.batch * g.in_h * g.in_w * g.in_c, ny = g.batch * g.out_h * g.out_w * g.out_c;
    const int64_t nk = g.kernel_h * g.kernel_w * (g.in_c / groups) * g.out_c;
    const auto x = random_floats(nx, 4), k = random_floats(nk, 5), dy = random_floats(ny, 6);
    std::vector<float> y(ny), y_ref(ny), dx(nx), dx_ref(nx), dk = random_floats(nk, 7), dk_ref = dk;
    conv2d_forward_bf16(g, x.data(), k.data(), y.data());
    conv2d_forward_ref(g, rounded(x).data(), rounded(k).data(), y_ref.data());
    conv2d_backward_data_bf16(g, dy.data(), k.data(), dx.data());
    conv2d_backward_data_ref(g, rounded(dy).data(), rounded(k).data(), dx_ref.data());
    conv2d_backward_weights_bf16(g, x.data(), dy.data(), dk.data(), true);
    conv2d_backward_weights_ref(g, rounded(x).data(), rounded(dy).data(), dk_ref.data(), true);
    for (int64_t i = 0; i < ny; ++i) EXPECT_NEAR(y[i], y_ref[i], 2e-5 * std::max(1.0f, std::fabs(y_ref[i]))) << i;
    for (int64_t i = 0; i < nx; ++i) EXPECT_NEAR(dx[i], dx_ref[i], 2e-5 * std::max(1.0f, std::fabs(dx_ref[i]))) << i;
    for (int64_t i = 0; i < nk; ++i) EXPECT_NEAR(dk[i], dk_ref[i], 2e-5 * std::max(1.0f, std::fabs(dk_ref[i]))) << i;
    // And the rounding is visible: the f32 forward differs.
    std::vector<float> y32(ny);
    conv2d_forward_ref(g, x.data(), k.data(), y32.data());
    double differs = 0.0;
    for (int64_t i = 0; i < ny; ++i) differs = std::max(differs, std::fabs(double(y32[i]) - y_ref[i]));
    EXPECT_GT(differs, 1e-3);
  }
}

TEST(Bf16, EmulatedConvolutionsTakeBf16Operands) {
  expect_conv_bf16_matches_reference(Bf16Kernels::kEmulated);
}

// Where the CPU has avx512_bf16, the default is oneDNN's bf16 matmul, and oneDNN says it runs a
// bf16 implementation; elsewhere the default is kNone, asking for native kernels is an error
// naming the missing feature, and gemm_bf16 refuses to run. Each machine checks its own half.
TEST(Bf16, NativeKernelsWhereTheCpuHasThemCleanFallbackWhereNot) {
  if (std::getenv("KEEL_BF16") != nullptr) GTEST_SKIP() << "KEEL_BF16 is set: the default is not under test";
  if (cpu_has_avx512_bf16()) {
    EXPECT_EQ(bf16_kernels(), Bf16Kernels::kNative);
    const std::string impl = gemm_bf16_implementation(64, 64, 64);
    EXPECT_NE(impl.find("bf16"), std::string::npos) << "oneDNN implementation: " << impl;
    expect_gemm_bf16_matches_reference(Bf16Kernels::kNative);
    expect_conv_bf16_matches_reference(Bf16Kernels::kNative);
  } else {
    EXPECT_EQ(bf16_kernels(), Bf16Kernels::kNone);
    EXPECT_EQ(gemm_bf16_implementation(64, 64, 64), "");
    const std::string message = testing::error_of([] { set_bf16_kernels(Bf16Kernels::kNative); });
    EXPECT_NE(message.find("avx512_bf16: no"), std::string::npos) << message;
    EXPECT_EQ(bf16_kernels(), Bf16Kernels::kNone);
    std::vector<uint16_t> a(4), b(4);
    std::vector<float> c(4);
    const std::string refused = testing::error_of([&] {
      gemm_bf16(a.data(), b.data(), c.data(), 2, 2, 2, false, false, false);
    });
    EXPECT_NE(refused.find("no bf16 kernels"), std::string::npos) << refused;
  }
}

}  // namespace
}  // namespace keel
