// Bias add fused with the activation (Dense forward), and the bias gradient (column sums).
#pragma once

#include <cstdint>

#include "keel/kernels/activation_kind.h"

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
// Dense backward through its activation and bias in one pass:
// z: (rows, cols) pre-activation (unused by elu and linear), y: (rows, cols) forward output,
// dy: (rows, cols), dz: (rows, cols) written with dL/dz (may equal dy),
// dbias: (cols) ADDED into with Σ_rows dz (double accumulation, fixed row order), or nullptr.
void activation_bias_backward(ActivationKind kind, const float* z, const float* y,
                              const float* dy, float* dz, float* dbias, int64_t rows,
                              int64_t cols);
void activation_bias_backward_ref(ActivationKind kind, const float* z, const float* y,
                                  const float* dy, float* dz, float* dbias, int64_t rows,
                                  int64_t cols);

void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols);
void bias_backward_ref(const float* dy, float* dbias, int64_t rows, int64_t cols);

}  // namespace keel
