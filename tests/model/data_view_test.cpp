// DataView::gather: the shuffled uint8 -> float batch fit() trains on (split over threads for
// large batches) and the float / label paths; prefetch is a hint and must accept any view.
#include "keel/model/data_view.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "keel/kernels/threads.h"

namespace keel {
namespace {

TEST(DataView, GatherConvertsShuffledUint8RowsWhateverTheThreadCount) {
  constexpr int64_t kSamples = 300, kWidth = 784, kBatch = 200;  // 156,800 values: parallel path
  std::vector<uint8_t> pixels(kSamples * kWidth), labels(kSamples);
  for (int64_t s = 0; s < kSamples; ++s) {
    labels[size_t(s)] = static_cast<uint8_t>(s % 10);
    for (int64_t j = 0; j < kWidth; ++j) pixels[size_t(s * kWidth + j)] = static_cast<uint8_t>((s * 7 + j * 13) % 256);
  }
  DataView view;
  view.size = kSamples;
  view.sample_dims = {28, 28};
  view.x_uint8 = pixels.data();
  view.x_scale = 1.0f / 255.0f;
  view.y_uint8 = labels.data();
  view.y_width = 1;
  std::vector<int64_t> order(kSamples);
  for (int64_t i = 0; i < kSamples; ++i) order[size_t(i)] = (i * 97 + 13) % kSamples;  // a permutation

  const int threads_before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<float> x(kBatch * kWidth, -1.0f), y(kBatch, -1.0f);
    view.prefetch(order.data(), 50, kBatch);
    view.gather(order.data(), 50, kBatch, x.data(), y.data());
    for (int64_t i = 0; i < kBatch; ++i) {
      const int64_t s = order[size_t(50 + i)];
      ASSERT_EQ(y[size_t(i)], static_cast<float>(s % 10)) << "row " << i;
      for (int64_t j = 0; j < kWidth; ++j) {
        const float want = static_cast<float>((s * 7 + j * 13) % 256) * (1.0f / 255.0f);
        ASSERT_EQ(x[size_t(i * kWidth + j)], want) << "row " << i << " column " << j;
      }
    }
  }
  set_num_threads(threads_before);
}

TEST(DataView, GatherCopiesFloatRowsInOrderWithoutIndices) {
  const std::vector<float> x_all = {0, 1, 2, 3, 4, 5, 6, 7};  // 4 samples of 2
  const std::vector<float> y_all = {10, 11, 12, 13};
  DataView view;
  view.size = 4;
  view.sample_dims = {2};
  view.x_float = x_all.data();
  view.y_float = y_all.data();
  view.y_width = 1;
  view.prefetch(nullptr, 1, 2);
  std::vector<float> x(4), y(2);
  view.gather(nullptr, 1, 2, x.data(), y.data());
  EXPECT_EQ(x, (std::vector<float>{2, 3, 4, 5}));
  EXPECT_EQ(y, (std::vector<float>{11, 12}));
  DataView empty;  // no features at all: prefetch is a no-op
  empty.prefetch(nullptr, 0, 0);
}

}  // namespace
}  // namespace keel
