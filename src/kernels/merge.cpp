#include "keel/kernels/merge.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace keel {

void merge_forward(MergeOp op, std::span<const float* const> xs, float* y, int64_t n) {
  assert(xs.size() >= 2);
  const size_t k = xs.size();
  // y may alias no input (the plan gives every output its own buffer), so fold into y directly.
  std::memcpy(y, xs[0], static_cast<size_t>(n) * sizeof(float));
  for (size_t i = 1; i < k; ++i) {
    const float* x = xs[i];
    switch (op) {
      case MergeOp::kAdd:
      case MergeOp::kAverage:
        for (int64_t j = 0; j < n; ++j) y[j] += x[j];
        break;
      case MergeOp::kSubtract:
        for (int64_t j = 0; j < n; ++j) y[j] -= x[j];
        break;
      case MergeOp::kMultiply:
        for (int64_t j = 0; j < n; ++j) y[j] *= x[j];
        break;
      case MergeOp::kMaximum:
        for (int64_t j = 0; j < n; ++j) y[j] = y[j] >= x[j] ? y[j] : x[j];
        break;
      case MergeOp::kMinimum:
        for (int64_t j = 0; j < n; ++j) y[j] = y[j] <= x[j] ? y[j] : x[j];
        break;
    }
  }
  if (op == MergeOp::kAverage) {
    // Keras: output / len(inputs), a division (not a multiplication by 1/k).
    const auto count = static_cast<float>(k);
    for (int64_t j = 0; j < n; ++j) y[j] /= count;
  }
}

namespace {
// Index of the first input attaining the extreme at element j, folding left to right.
size_t extreme_index(MergeOp op, std::span<const float* const> xs, int64_t j) {
  size_t best = 0;
  float value = xs[0][j];
  for (size_t i = 1; i < xs.size(); ++i) {
    const float v = xs[i][j];
    const bool keep = op == MergeOp::kMaximum ? value >= v : value <= v;
    if (!keep) {
      best = i;
      value = v;
    }
  }
  return best;
}
}  // namespace

void merge_backward(MergeOp op, std::span<const float* const> xs, const float* dy,
                    std::span<float* const> dxs, int64_t n) {
  const size_t k = xs.size();
  assert(dxs.size() == k);
  const auto bytes = static_cast<size_t>(n) * sizeof(float);
  switch (op) {
    case MergeOp::kAdd:
      for (float* dx : dxs)
        if (dx != nullptr) std::memcpy(dx, dy, bytes);
      break;
    case MergeOp::kSubtract:
      if (dxs[0] != nullptr) std::memcpy(dxs[0], dy, bytes);
      if (dxs[1] != nullptr)
        for (int64_t j = 0; j < n; ++j) dxs[1][j] = -dy[j];
      break;
    case MergeOp::kAverage: {
      const auto count = static_cast<float>(k);
      for (float* dx : dxs)
        if (dx != nullptr)
          for (int64_t j = 0; j < n; ++j) dx[j] = dy[j] / count;
      break;
    }
    case MergeOp::kMultiply:
      // dx_i = dy · Π_{m≠i} x_m, the product taken in input order.
      for (size_t i = 0; i < k; ++i) {
        float* dx = dxs[i];
        if (dx == nullptr) continue;
        std::memcpy(dx, dy, bytes);
        for (size_t m = 0; m < k; ++m)
          if (m != i)
            for (int64_t j = 0; j < n; ++j) dx[j] *= xs[m][j];
      }
      break;
    case MergeOp::kMaximum:
    case MergeOp::kMinimum:
      for (float* dx : dxs)
        if (dx != nullptr) std::fill_n(dx, n, 0.0f);
      for (int64_t j = 0; j < n; ++j) {
        float* dx = dxs[extreme_index(op, xs, j)];
        if (dx != nullptr) dx[j] = dy[j];
      }
      break;
  }
}

void concat_forward(std::span<const float* const> xs, std::span<const int64_t> widths, float* y,
                    int64_t outer) {
  int64_t total = 0;
  for (int64_t w : widths) total += w;
  for (int64_t r = 0; r < outer; ++r) {
    float* row = y + r * total;
    for (size_t i = 0; i < xs.size(); ++i) {
      std::memcpy(row, xs[i] + r * widths[i], static_cast<size_t>(widths[i]) * sizeof(float));
      row += widths[i];
    }
  }
}

void concat_backward(const float* dy, std::span<float* const> dxs, std::span<const int64_t> widths,
                     int64_t outer) {
  int64_t total = 0;
  for (int64_t w : widths) total += w;
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = dy + r * total;
    for (size_t i = 0; i < dxs.size(); ++i) {
      if (dxs[i] != nullptr) {
        std::memcpy(dxs[i] + r * widths[i], row, static_cast<size_t>(widths[i]) * sizeof(float));
      }
      row += widths[i];
    }
  }
}

void accumulate(float* y, const float* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += x[j];
}

}  // namespace keel
