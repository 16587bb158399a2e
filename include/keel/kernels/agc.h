// Adaptive gradient clipping (Brock, De, Smith, Simonyan 2021, NFNets; DeepMind's
// nfnets/optim.py SGD_AGC): one variable's gradient rescaled unit by unit against its weights.
//
// A variable is seen as a row-major (rows, units) matrix whose columns are the units: the last
// axis is the output unit of Keras's kernels ((in, out), (kh, kw, cin, cout)), rows is the
// product of the other axes. units == 1 is the whole tensor (biases, BN gains; docs/clipping.md).
#pragma once

#include <cstdint>

namespace keel {

constexpr double kAgcMinWeightNorm = 1e-3;  // DeepMind's eps: zero-initialised units still move
constexpr double kAgcMinGradNorm = 1e-6;    // guards the division only (a zero norm never triggers)

// For every unit j:  max_j = lambda * max(||w_j||, 1e-3);
//                    if ||g_j|| > max_j:  g_j *= float(max_j / max(||g_j||, 1e-6)),
//                    else unchanged.
// Norms are summed in double, each unit by one thread in a fixed order, and the scale is rounded
// to float once, so the result has the same bits for any thread count. A NaN norm never triggers
// (NaN compares false, as in jnp.where), an infinite gradient norm gives scale 0.
// w: (rows, units) read only
// g: (rows, units) scaled in place
// scale: (units) scratch
// Returns the number of units whose norm exceeded max_j.
int64_t agc_clip(const float* w, float* g, int64_t rows, int64_t units, double lambda,
                 float* scale);
// The naive loops: unit by unit, rows in order. Same bits as agc_clip for units > 1; for
// units == 1 agc_clip sums through sum_squares' fixed lanes, so the norm's last bit may differ.
int64_t agc_clip_ref(const float* w, float* g, int64_t rows, int64_t units, double lambda);

}  // namespace keel
