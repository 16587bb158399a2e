// Bias add fused with the activation (Dense forward), and the bias gradient (column sums).
#pragma once

#include <cstdint>

#include "keel/layers/activation_function.h"

namespace keel {

// z: (rows, cols) in/out, z += bias (row-broadcast) when bias != nullptr
// bias: (cols) or nullptr
// y: (rows, cols) = activation(z); may equal z (then z ends up holding the activation)
void bias_activation_forward(float* z, const float* bias, float* y, int64_t rows, int64_t cols,
                             ActivationKind kind);
void bias_activation_forward_ref(float* z, const float* bias, float* y, int64_t rows,
                                 int64_t cols, ActivationKind kind);

// dy: (rows, cols)
// dbias: (cols), dbias += Σ_rows dy. Double accumulation; each column summed by one thread in row
// order, so the result is independent of the thread count.
void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols);
void bias_backward_ref(const float* dy, float* dbias, int64_t rows, int64_t cols);

}  // namespace keel
