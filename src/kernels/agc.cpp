// Adaptive gradient clipping: per-unit norms by column blocks, then the rescale by rows.
//
// Two passes over a (rows, units) variable in one parallel region: the sums of squares of w and g
// per column (read only, column blocks spread over the threads as the bias and BN column sums are,
// each column summed in row order by one thread), then, only when some unit is over its limit,
// g *= scale by row ranges (two threads writing different columns of the same rows would share
// cache lines; parallel.h).
#include "keel/kernels/agc.h"

#include <algorithm>
#include <cmath>

#include "keel/kernels/optimizer_kernels.h"
#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

namespace keel {
namespace {

constexpr int64_t kAgcBlock = 64;  // columns per block: 2 x 64 double accumulators on the stack

// DeepMind's formula for one unit from its two sums of squares. Returns the factor for g (1.0f:
// unchanged; multiplying by 1 is exact) and counts the unit in *clipped when it triggers.
float unit_scale(double w_sum_squares, double g_sum_squares, double lambda, int64_t* clipped) {
  const double max_norm = lambda * std::max(std::sqrt(w_sum_squares), kAgcMinWeightNorm);
  const double g_norm = std::sqrt(g_sum_squares);
  if (!(g_norm > max_norm)) return 1.0f;
  ++*clipped;
  return static_cast<float>(max_norm / std::max(g_norm, kAgcMinGradNorm));
}

// Columns [j0, j0 + width) of w and g (width <= kAgcBlock): scale[j0 .. j0 + width).
KEEL_MULTIVERSION int64_t scales_block(const float* w, const float* g, float* scale, int64_t rows,
                                       int64_t units, int64_t j0, int64_t width, double lambda) {
  double wsq[kAgcBlock] = {}, gsq[kAgcBlock] = {};
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict wr = w + r * units + j0;
    const float* __restrict gr = g + r * units + j0;
    for (int64_t j = 0; j < width; ++j) {
      wsq[j] += static_cast<double>(wr[j]) * wr[j];
      gsq[j] += static_cast<double>(gr[j]) * gr[j];
    }
  }
  int64_t clipped = 0;
  for (int64_t j = 0; j < width; ++j) scale[j0 + j] = unit_scale(wsq[j], gsq[j], lambda, &clipped);
  return clipped;
}

// g: (rows, units) *= scale (units), row by row.
KEEL_MULTIVERSION void scale_rows(float* g, const float* scale, int64_t rows, int64_t units) {
  using namespace simd;
  for (int64_t r = 0; r < rows; ++r) {
    float* gr = g + r * units;
    int64_t j = 0;
    for (; j + kLanes <= units; j += kLanes) store(gr + j, load(gr + j) * load(scale + j));
    for (; j < units; ++j) gr[j] *= scale[j];
  }
}

}  // namespace

int64_t agc_clip(const float* w, float* g, int64_t rows, int64_t units, double lambda,
                 float* scale) {
  const int64_t n = rows * units;
  if (n == 0) return 0;
  if (units == 1) {  // the whole tensor: sum_squares' vectorised fixed-lane sums
    int64_t clipped = 0;
    const float s = unit_scale(sum_squares(w, n), sum_squares(g, n), lambda, &clipped);
    if (clipped > 0) scale_rows(g, &s, n, 1);
    return clipped;
  }
  // One region: the column sums and scales by column blocks, a barrier, then the rows. Counts are
  // integers, so their order of addition does not matter.
  int64_t clipped = 0;
#pragma omp parallel if (n >= kParallelMinElements)
  {
    int64_t mine = 0;
    for_each_block(thread_share(units, kColumnGranule), kAgcBlock, [&](int64_t j0, int64_t width) {
      mine += scales_block(w, g, scale, rows, units, j0, width, lambda);
    });
#pragma omp atomic
    clipped += mine;
#pragma omp barrier
    if (clipped > 0) {  // none is the common case once training is stable: g is not written
      const Range r = thread_share(rows, 1);
      scale_rows(g + r.begin * units, scale, r.end - r.begin, units);
    }
  }
  return clipped;
}

int64_t agc_clip_ref(const float* w, float* g, int64_t rows, int64_t units, double lambda) {
  int64_t clipped = 0;
  for (int64_t j = 0; j < units; ++j) {
    double wsq = 0.0, gsq = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      wsq += static_cast<double>(w[r * units + j]) * w[r * units + j];
      gsq += static_cast<double>(g[r * units + j]) * g[r * units + j];
    }
    const float s = unit_scale(wsq, gsq, lambda, &clipped);
    for (int64_t r = 0; r < rows; ++r) g[r * units + j] *= s;
  }
  return clipped;
}

}  // namespace keel
