// y = scale·x + shift with one scalar scale and shift for the whole tensor (Fixup's scalar
// multiplier and scalar biases, keel/layers/fixup_layers.h).
#pragma once

#include <cstdint>

namespace keel {

// x: (n), y: (n) = scale·x + shift; y may equal x.
void scalar_affine_forward(const float* x, float* y, int64_t n, float scale, float shift);

// x: (n) forward input (read only when dscale is wanted), dy: (n)
// dx: (n) WRITTEN with scale·dy, or nullptr (no input gradient); may equal dy.
// dscale = Σ x·dy and dshift = Σ dy, each accumulated in double in index order (the same bits
// whatever the thread count); a nullptr skips that sum.
void scalar_affine_backward(const float* x, const float* dy, float* dx, int64_t n, float scale,
                            double* dscale, double* dshift);

}  // namespace keel
