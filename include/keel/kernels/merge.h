// Elementwise merges of k same-shaped tensors (Keras Add, Subtract, Multiply, Average, Maximum,
// Minimum) and concatenation along an axis. Inputs are combined in input order, as Keras folds
// them: ((x0 + x1) + x2) + ..., so results match Keras to the bit in float.
#pragma once

#include <cstdint>
#include <span>

namespace keel {

enum class MergeOp : uint8_t { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kMinimum };

// xs: k pointers to (n) floats (k >= 2; kSubtract: k == 2)
// y: (n) = op(xs...)
void merge_forward(MergeOp op, std::span<const float* const> xs, float* y, int64_t n);

// xs: as forward, dy: (n)
// dxs: k pointers to (n) floats, WRITTEN with dL/dx_i; a null pointer skips that input.
// Maximum/Minimum send the gradient to the first input that attains the extreme (TensorFlow's
// maximum/minimum gradients route ties to the left operand, and Keras folds left to right).
void merge_backward(MergeOp op, std::span<const float* const> xs, const float* dy,
                    std::span<float* const> dxs, int64_t n);

// xs[i]: (outer, widths[i]) row blocks; y: (outer, Σ widths) with x0's block first in each row.
void concat_forward(std::span<const float* const> xs, std::span<const int64_t> widths, float* y,
                    int64_t outer);
// dy: (outer, Σ widths); dxs[i]: (outer, widths[i]) WRITTEN, or null to skip.
void concat_backward(const float* dy, std::span<float* const> dxs, std::span<const int64_t> widths,
                     int64_t outer);

// y: (n) += x: (n) (gradient sums where a tensor feeds several layers).
void accumulate(float* y, const float* x, int64_t n);

}  // namespace keel
