// The pooling kernels against a scalar reference written here from TensorFlow's rules (first
// maximum in row-major window order takes the gradient; 'same' windows clipped to the input), on
// inputs full of ties, at channel counts that fill whole vectors, part of one and both, and at every
// thread count, with the winners found from x and as the training forward records them. The TF
// goldens (cnn_golden_test) cover 1 to 3 channels of random values only.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/batch_norm.h"
#include "keel/kernels/pool.h"
#include "keel/kernels/threads.h"
#include "keel/layers/pooling2d.h"

namespace keel {
namespace {

struct Case {
  int64_t in_h, in_w, pool, stride, pad;  // pad: top/left (bottom/right follow from out_h/out_w)
};

Pool2dGeometry geometry(const Case& c, int64_t batch, int64_t channels) {
  Pool2dGeometry g;
  g.batch = batch, g.in_h = c.in_h, g.in_w = c.in_w, g.channels = channels;
  g.pool_h = g.pool_w = c.pool, g.stride_h = g.stride_w = c.stride;
  g.pad_top = g.pad_left = c.pad;
  // 'valid' without padding; with padding, TF's 'same' output size ceil(n / stride).
  g.out_h = c.pad == 0 ? (c.in_h - c.pool) / c.stride + 1 : (c.in_h + c.stride - 1) / c.stride;
  g.out_w = c.pad == 0 ? (c.in_w - c.pool) / c.stride + 1 : (c.in_w + c.stride - 1) / c.stride;
  return g;
}

// One output cell's window, clipped to the input, visited in row-major order.
template <typename F>
void for_window(const Pool2dGeometry& g, int64_t oh, int64_t ow, F f) {
  for (int64_t i = 0; i < g.pool_h; ++i)
    for (int64_t j = 0; j < g.pool_w; ++j) {
      const int64_t h = oh * g.stride_h - g.pad_top + i, w = ow * g.stride_w - g.pad_left + j;
      if (h >= 0 && h < g.in_h && w >= 0 && w < g.in_w) f(h, w);
    }
}

void reference(const Pool2dGeometry& g, const std::vector<float>& x, const std::vector<float>& dy,
               std::vector<float>& y_max, std::vector<float>& y_avg, std::vector<float>& dx_max) {
  const int64_t c = g.channels;
  const auto in = [&](int64_t n, int64_t h, int64_t w, int64_t k) {
    return ((n * g.in_h + h) * g.in_w + w) * c + k;
  };
  y_max.assign(size_t(g.batch * g.out_h * g.out_w * c), 0.0f);
  y_avg = y_max;
  dx_max.assign(x.size(), 0.0f);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t k = 0; k < c; ++k) {
          const int64_t o = ((n * g.out_h + oh) * g.out_w + ow) * c + k;
          int64_t best = -1, cells = 0;
          float sum = 0.0f;
          for_window(g, oh, ow, [&](int64_t h, int64_t w) {
            const int64_t i = in(n, h, w, k);
            if (best < 0 || x[i] > x[best]) best = i;
            sum += x[i];
            ++cells;
          });
          y_max[o] = x[best];
          y_avg[o] = sum / static_cast<float>(cells);
          dx_max[best] += dy[o];
        }
}

// The BN + ReLU + pool fusion's kernels against the unfused composition: the pooling of
// batch_norm_apply's relu(x·scale + shift) (forward, winners), and the pool's dx expanded by row
// ranges that start and end anywhere (inside an image, across images).
void expect_fused_bn_relu_pool_matches(const Pool2dGeometry& g, const std::vector<float>& x,
                                       const std::vector<float>& dy, const std::string& at) {
  const int64_t c = g.channels, rows = g.batch * g.in_h * g.in_w;
  std::vector<float> scale(static_cast<size_t>(c)), shift(scale), relu_x(x.size());
  for (int64_t k = 0; k < c; ++k) scale[size_t(k)] = 0.5f + 0.25f * float(k % 5), shift[size_t(k)] = 0.3f * float(k % 3) - 0.3f;
  batch_norm_apply(x.data(), scale.data(), shift.data(), relu_x.data(), rows, c, 1, true);
  std::vector<float> y_r, y_avg_r, dx_r;
  reference(g, relu_x, dy, y_r, y_avg_r, dx_r);
  std::vector<float> y(y_r.size(), 42.0f);
  std::vector<uint8_t> argmax(y_r.size(), 0xff);
  max_pool2d_forward_affine_relu(g, x.data(), scale.data(), shift.data(), y.data(), argmax.data());
  ASSERT_EQ(y, y_r) << at << ", BN + ReLU fused in front";
  std::vector<float> y_inference(y_r.size(), 42.0f);
  max_pool2d_forward_affine_relu(g, x.data(), scale.data(), shift.data(), y_inference.data(), nullptr);
  ASSERT_EQ(y_inference, y_r) << at << ", BN + ReLU fused in front, no winners";
  std::vector<float> dx(x.size(), 42.0f);
  for (int64_t r0 = 0; r0 < rows;) {
    const int64_t n = std::min<int64_t>(rows - r0, 1 + (r0 * 7 + 13) % 61);  // 1 to 61 rows
    max_pool2d_backward_rows(g, dy.data(), argmax.data(), r0, n, dx.data() + r0 * c);
    r0 += n;
  }
  ASSERT_EQ(dx, dx_r) << at << ", dx by row ranges";
}

TEST(KernelsPool, MatchScalarReferenceWithTiesAtEveryThreadCount) {
  const int saved = num_threads();
  const Case cases[] = {
      {28, 28, 2, 2, 0},  // seed-cnn: windows tile the input
      {7, 7, 2, 2, 0},    // 'valid' on odd sizes: the last row and column belong to no window
      {7, 5, 2, 2, 1},    // padding first: the first window of each row and column clipped
      {9, 9, 3, 3, 0},    // 3x3 windows, disjoint
      {8, 8, 3, 2, 1},    // overlapping ('same', 3x3 stride 2)
      {5, 6, 2, 1, 0},    // overlapping, stride 1
  };
  for (const Case& shape : cases) {
    for (int64_t channels : {1, 3, 16, 20, 35, 64, 80}) {
      const Pool2dGeometry g = geometry(shape, 5, channels);
      const int64_t nx = g.batch * g.in_h * g.in_w * channels;
      const int64_t ny = g.batch * g.out_h * g.out_w * channels;
      Rng rng(uint64_t(channels * 131 + shape.in_h));
      std::vector<float> x(static_cast<size_t>(nx)), dy(static_cast<size_t>(ny));
      // Three levels: most windows hold ties for their maximum.
      for (float& v : x) v = std::floor(static_cast<float>(rng.uniform() * 3.0)) - 1.0f;
      for (float& v : dy) v = static_cast<float>(rng.normal());
      std::vector<float> y_max_r, y_avg_r, dx_r;
      reference(g, x, dy, y_max_r, y_avg_r, dx_r);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<float> y_max(static_cast<size_t>(ny)), y_avg(y_max), dx(static_cast<size_t>(nx), 42.0f);
        max_pool2d_forward(g, x.data(), y_max.data());
        avg_pool2d_forward(g, x.data(), y_avg.data());
        max_pool2d_backward(g, x.data(), dy.data(), dx.data());
        // The training path: the forward records each output's winner, the backward reads them.
        std::vector<float> y_rec(static_cast<size_t>(ny)), dx_rec(static_cast<size_t>(nx), 42.0f);
        std::vector<uint8_t> argmax(static_cast<size_t>(ny), 0xff);
        max_pool2d_forward(g, x.data(), y_rec.data(), argmax.data());
        max_pool2d_backward(g, x.data(), dy.data(), dx_rec.data(), argmax.data());
        const std::string at = std::to_string(shape.in_h) + "x" + std::to_string(shape.in_w) +
                               " pool " + std::to_string(shape.pool) + "/" +
                               std::to_string(shape.stride) + ", " + std::to_string(channels) +
                               " channels, " + std::to_string(threads) + " threads";
        ASSERT_EQ(y_max, y_max_r) << at;
        ASSERT_EQ(dx, dx_r) << at;  // every cell written: 0 where no window's first maximum
        ASSERT_EQ(y_rec, y_max_r) << at << ", winners recorded";
        ASSERT_EQ(dx_rec, dx_r) << at << ", winners recorded";
        ASSERT_EQ(max_pool2d_records_argmax(g), shape.stride >= shape.pool) << at;
        if (max_pool2d_records_argmax(g)) expect_fused_bn_relu_pool_matches(g, x, dy, at);
        for (int64_t i = 0; i < ny; ++i) ASSERT_NEAR(y_avg[i], y_avg_r[i], 1e-6) << at;
      }
    }
  }
  set_num_threads(saved);
}

// A NaN never wins against the window's first cell and never becomes the maximum after it (every
// comparison with NaN is false), so the scalar rule and the vector one agree on it too.
TEST(KernelsPool, MaxBackwardWithNanFollowsTheFirstCellRule) {
  const Pool2dGeometry g = geometry({2, 2, 2, 2, 0}, 1, 16);
  std::vector<float> x(64), dy(16, 1.0f), dx(64, 7.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t k = 0; k < 16; ++k) {
    x[size_t(k)] = k % 2 ? nan : 0.0f;  // cell (0, 0): NaN in odd channels
    x[size_t(16 + k)] = 1.0f;            // cell (0, 1)
    x[size_t(32 + k)] = k % 3 ? 2.0f : nan;
    x[size_t(48 + k)] = 0.5f;
  }
  std::vector<float> y_max_r, y_avg_r, dx_r;
  reference(g, x, dy, y_max_r, y_avg_r, dx_r);
  max_pool2d_backward(g, x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, dx_r);
  EXPECT_EQ(dx[1], 1.0f);   // odd channel: the NaN first cell keeps the gradient
  EXPECT_EQ(dx[32 + 1], 0.0f);  // ... so cell (1, 0) gets none
  EXPECT_EQ(dx[32 + 2], 1.0f);  // even channel, 2.0 at (1, 0) wins
  // Winners recorded by the forward: the same rule, while y stays std::max from -inf (the NaN
  // first cell is not the output).
  std::vector<float> y(16), y_plain(16), dx_rec(64, 7.0f);
  std::vector<uint8_t> argmax(16);
  max_pool2d_forward(g, x.data(), y_plain.data());
  max_pool2d_forward(g, x.data(), y.data(), argmax.data());
  max_pool2d_backward(g, x.data(), dy.data(), dx_rec.data(), argmax.data());
  EXPECT_EQ(dx_rec, dx_r);
  for (size_t k = 0; k < 16; ++k) EXPECT_EQ(std::bit_cast<uint32_t>(y[k]), std::bit_cast<uint32_t>(y_plain[k])) << k;
}

// The fused expansion has no winners to read for overlapping windows: a clear error naming the
// pool, not a wrong gradient.
TEST(KernelsPool, RowExpansionRejectsWindowsWithoutRecordedWinners) {
  const Pool2dGeometry overlapping = geometry({8, 8, 3, 2, 1}, 1, 4);
  std::vector<float> dy(64), dx(256);
  std::vector<uint8_t> argmax(64);
  try {
    max_pool2d_backward_rows(overlapping, dy.data(), argmax.data(), 0, 64, dx.data());
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pool 3x3 stride 2x2"), std::string::npos) << e.what();
  }
  const Pool2dGeometry disjoint = geometry({8, 8, 2, 2, 0}, 1, 4);
  EXPECT_THROW(max_pool2d_backward_rows(disjoint, dy.data(), nullptr, 0, 64, dx.data()), Error);
}

// The layer records the winners in a training forward and uses them only in the backward of that
// input: after a second forward on another input (a layer called twice in a graph), the backward
// of the first finds its winners from its own x.
TEST(KernelsPool, LayerUsesRecordedWinnersOnlyForTheirInput) {
  MaxPooling2D pool;
  pool.build(Shape{kBatchUnknown, 4, 4, 3});
  const Pool2dGeometry g = geometry({4, 4, 2, 2, 0}, 2, 3);
  std::vector<float> x1(96), x2(96), y(24), dy(24), dx(96), dx_r(96);
  Rng rng(5);
  for (float& v : x1) v = static_cast<float>(rng.normal());
  for (float& v : x2) v = static_cast<float>(rng.normal());
  for (float& v : dy) v = static_cast<float>(rng.normal());
  max_pool2d_backward(g, x1.data(), dy.data(), dx_r.data());
  pool.unary_forward(x1.data(), y.data(), 2, Mode::kTraining);
  pool.unary_backward(x1.data(), y.data(), dy.data(), dx.data(), 2, Write::kSet);
  EXPECT_EQ(dx, dx_r);
  pool.unary_forward(x1.data(), y.data(), 2, Mode::kTraining);
  pool.unary_forward(x2.data(), y.data(), 2, Mode::kTraining);
  std::fill(dx.begin(), dx.end(), 9.0f);
  pool.unary_backward(x1.data(), y.data(), dy.data(), dx.data(), 2, Write::kSet);
  EXPECT_EQ(dx, dx_r);
}

}  // namespace
}  // namespace keel
