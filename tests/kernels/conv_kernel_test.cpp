// oneDNN convolution kernels vs their naive references at awkward sizes, and TF's 'same' padding
// rule on the examples of keras-semantics-r2.md §1.1.
#include "keel/kernels/conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "keel/core/rng.h"

namespace keel {
namespace {

std::vector<float> random(int64_t n, uint64_t seed) {
  Rng rng(seed, 3);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.uniform_double() * 2.0 - 1.0);
  return v;
}

// Float sums of `terms` products in (-1, 1) against a double reference: the rounding error grows
// with the number of terms (the kernel gradient sums batch·out_h·out_w of them).
void expect_close(const std::vector<float>& a, const std::vector<float>& b, int64_t terms,
                  const char* what) {
  ASSERT_EQ(a.size(), b.size());
  const double tol = 2e-5 * std::max<double>(1.0, double(terms) / 256.0);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], tol * std::max(1.0f, std::fabs(b[i]))) << what << "[" << i << "]";
  }
}

TEST(ConvKernel, SamePaddingFollowsTensorFlow) {
  struct Row {
    int64_t n, k, s, d, before, after, out;
  };
  for (const Row& r : {Row{7, 2, 1, 1, 0, 1, 7}, Row{8, 4, 1, 1, 1, 2, 8}, Row{8, 2, 1, 2, 1, 1, 8},
                       Row{8, 3, 2, 1, 0, 1, 4}, Row{7, 3, 2, 1, 1, 1, 4}, Row{9, 5, 3, 1, 1, 1, 3}}) {
    const Axis1d a = conv_axis(r.n, r.k, true, r.s, r.d);
    EXPECT_EQ(a.out, r.out) << r.n << " " << r.k;
    EXPECT_EQ(a.pad.before, r.before) << r.n << " " << r.k << " " << r.s;
    EXPECT_EQ(a.pad.after, r.after) << r.n << " " << r.k << " " << r.s;
  }
  EXPECT_EQ(conv_output_length(9, 3, false, 2, 1), 4);
  EXPECT_EQ(conv_output_length(8, 3, false, 1, 2), 4);
}

TEST(ConvKernel, OneDnnMatchesReference) {
  struct Case {
    int64_t batch, h, w, c, oc, kh, kw, s, d, groups;
    bool same;
  };
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, false}, {3, 7, 7, 3, 8, 3, 3, 1, 1, 1, true},
      {2, 8, 8, 3, 16, 3, 3, 2, 1, 1, true}, {2, 9, 9, 17, 15, 5, 5, 3, 1, 1, true},
      {3, 8, 7, 16, 17, 2, 2, 1, 1, 1, true}, {2, 9, 8, 3, 7, 3, 3, 1, 2, 1, true},
      {2, 15, 16, 4, 6, 3, 3, 1, 1, 2, false}, {2, 7, 9, 8, 8, 3, 3, 2, 1, 8, true},
      {1, 17, 15, 9, 65, 1, 1, 2, 1, 1, false}, {4, 28, 28, 1, 32, 3, 3, 1, 1, 1, true},
      {2, 14, 14, 32, 64, 3, 3, 1, 1, 1, true}, {2, 9, 9, 6, 12, 3, 2, 1, 3, 3, false},
  };
  uint64_t seed = 1;
  for (const Case& k : cases) {
    SCOPED_TRACE(::testing::Message() << k.h << "x" << k.w << "x" << k.c << " -> " << k.oc << " k"
                                      << k.kh << "x" << k.kw << " s" << k.s << " d" << k.d << " g"
                                      << k.groups << (k.same ? " same" : " valid"));
    const Axis1d ah = conv_axis(k.h, k.kh, k.same, k.s, k.d), aw = conv_axis(k.w, k.kw, k.same, k.s, k.d);
    Conv2dGeometry g{k.batch, k.h,  k.w,  k.c,  ah.out, aw.out, k.oc, k.kh, k.kw,
                     k.s,     k.s,  k.d,  k.d,  ah.pad.before, aw.pad.before, ah.pad.after,
                     aw.pad.after, k.groups};
    const int64_t nx = g.batch * g.in_h * g.in_w * g.in_c, ny = g.batch * g.out_h * g.out_w * g.out_c;
    const int64_t nk = g.kernel_h * g.kernel_w * (g.in_c / g.groups) * g.out_c;
    const auto x = random(nx, seed++), kernel = random(nk, seed++), dy = random(ny, seed++);
    std::vector<float> y(static_cast<size_t>(ny)), y_ref(static_cast<size_t>(ny));
    conv2d_forward(g, x.data(), kernel.data(), y.data());
    conv2d_forward_ref(g, x.data(), kernel.data(), y_ref.data());
    expect_close(y, y_ref, nk / g.out_c, "y");
    std::vector<float> dx(static_cast<size_t>(nx)), dx_ref(static_cast<size_t>(nx));
    conv2d_backward_data(g, dy.data(), kernel.data(), dx.data());
    conv2d_backward_data_ref(g, dy.data(), kernel.data(), dx_ref.data());
    expect_close(dx, dx_ref, g.kernel_h * g.kernel_w * g.out_c / g.groups, "dx");
    for (bool accumulate : {false, true}) {
      std::vector<float> dk = random(nk, 77), dk_ref = dk;
      conv2d_backward_weights(g, x.data(), dy.data(), dk.data(), accumulate);
      conv2d_backward_weights_ref(g, x.data(), dy.data(), dk_ref.data(), accumulate);
      expect_close(dk, dk_ref, g.batch * g.out_h * g.out_w,
                   accumulate ? "dkernel (accumulate)" : "dkernel");
    }
  }
}

TEST(ConvKernel, PrimitivesAreCached) {
  Conv2dGeometry g{2, 5, 5, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  std::vector<float> x(2 * 5 * 5 * 3, 0.5f), k(3 * 3 * 3 * 4, 0.25f), y(2 * 5 * 5 * 4);
  conv2d_forward(g, x.data(), k.data(), y.data());
  const int64_t n = conv2d_cache_size();
  for (int i = 0; i < 3; ++i) conv2d_forward(g, x.data(), k.data(), y.data());
  EXPECT_EQ(conv2d_cache_size(), n);
  // Interior output: every tap reads 0.5·0.25 over 3·3·3 inputs.
  EXPECT_FLOAT_EQ(y[size_t(((0 * 5 + 2) * 5 + 2) * 4)], 27 * 0.125f);
}

}  // namespace
}  // namespace keel
