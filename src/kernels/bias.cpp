#include "keel/kernels/bias.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dispatch.h"
#include "parallel.h"
#include "simd.h"
#include "keel/kernels/activations.h"

namespace keel {

namespace {
// Column block for reductions: 64 double accumulators fit in vector registers (no allocation);
// blocks are the unit of parallel work.
constexpr int64_t kColumnBlock = 64;

// z, y: (rows, cols) with row stride `cols`; bias: (cols) or nullptr. One call per row range.
// z may equal y (the Dense forward writes the GEMM result into y and activates in place).
KEEL_MULTIVERSION void bias_elu_rows(float* z, const float* bias, float* y, int64_t rows,
                                     int64_t cols) {
  using namespace simd;
  const bool keep_z = z != y;
  for (int64_t r = 0; r < rows; ++r) {
    float* zr = z + r * cols;
    float* yr = y + r * cols;
    int64_t j = 0;
    for (; j + kLanes <= cols; j += kLanes) {
      f32x16 v = load(zr + j);
      if (bias != nullptr) v += load(bias + j);
      if (keep_z) store(zr + j, v);
      store(yr + j, elu(v));
    }
    if (j < cols) {
      const int64_t w = cols - j;
      f32x16 v = load_partial(zr + j, w);
      if (bias != nullptr) v += load_partial(bias + j, w);
      if (keep_z) store_partial(zr + j, v, w);
      store_partial(yr + j, elu(v), w);
    }
  }
}

KEEL_MULTIVERSION void bias_rows(float* z, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict zr = z + r * cols;
    for (int64_t j = 0; j < cols; ++j) zr[j] += bias[j];
  }
}

// Columns [j0, j0 + w) of dz = elu'(y)·dy (or dy for linear; dz == nullptr: not stored) and
// dbias += Σ_rows dz (dbias == nullptr: not summed), in row order with double accumulators: the
// bits do not depend on how blocks are spread over threads. dz may alias dy (elementwise, same
// index). kGroups = ceil(w / 16) is a constant, so the loops over the vectors have constant trip
// counts and the accumulators stay in registers; whole groups also get w as a literal.
template <int kGroups>
KEEL_SIMD_INLINE void elu_bias_backward_body(const float* y, const float* dy, float* dz,
                                             float* dbias, int64_t rows, int64_t cols, int64_t j0,
                                             int64_t w, bool is_elu) {
  using namespace simd;
  f64x8 acc[2 * kGroups] = {};
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * cols + j0;  // offsets only on the pointers in use (y, dz may be null)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kGroups; ++v) {
      const int64_t j = v * kLanes;
      f32x16 d = load_upto(dy + at, j, w);
      if (is_elu) d = elu_grad(load_upto(y + at, j, w), d);
      if (dz != nullptr) {
        float* dzr = dz + at;
        if (j + kLanes <= w) store(dzr + j, d); else store_partial(dzr + j, d, w - j);
      }
      acc[2 * v] += low_f64(d);  // lanes past w are 0 and never read back
      acc[2 * v + 1] += high_f64(d);
    }
  }
  if (dbias != nullptr)
    for (int64_t j = 0; j < w; ++j) dbias[j0 + j] += static_cast<float>(acc[j / 8][j % 8]);
}

static_assert(kColumnBlock == 4 * simd::kLanes, "the block dispatch below handles 1 to 4 groups of 16");

KEEL_MULTIVERSION void elu_bias_backward_block(const float* y, const float* dy, float* dz,
                                               float* dbias, int64_t rows, int64_t cols,
                                               int64_t j0, int64_t w, bool is_elu) {
#define KEEL_BODY(G, W) return elu_bias_backward_body<G>(y, dy, dz, dbias, rows, cols, j0, W, is_elu)
  KEEL_FOR_VECTOR_COUNT(w, KEEL_BODY)
#undef KEEL_BODY
}

KEEL_MULTIVERSION void column_sums_block(const float* dy, float* dbias, int64_t rows, int64_t cols,
                                         int64_t j0, int64_t w) {
  double acc[kColumnBlock] = {};
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = dy + r * cols + j0;
    for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
  }
  for (int64_t j = 0; j < w; ++j) dbias[j0 + j] += static_cast<float>(acc[j]);
}

}  // namespace

void bias_activation_forward(float* z, const float* bias, float* y, int64_t rows, int64_t cols,
                             ActivationKind kind) {
  const bool parallel = rows * cols >= kParallelMinElements;
  if (kind == ActivationKind::kElu) {
    if (!parallel) return bias_elu_rows(z, bias, y, rows, cols);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) bias_elu_rows(z + r * cols, bias, y + r * cols, 1, cols);
    return;
  }
  if (!parallel) {  // not even an inactive OpenMP region: entering one costs ~0.2 µs
    if (bias != nullptr) bias_rows(z, bias, rows, cols);
    activation_forward(kind, z, y, rows, cols);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    if (bias != nullptr) bias_rows(z + r * cols, bias, 1, cols);
    activation_forward(kind, z + r * cols, y + r * cols, 1, cols);
  }
}

void bias_activation_forward_ref(float* z, const float* bias, float* y, int64_t rows,
                                 int64_t cols, ActivationKind kind) {
  if (bias != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < cols; ++j) z[r * cols + j] += bias[j];
    }
  }
  activation_forward_ref(kind, z, y, rows, cols);
}

void activation_bias_backward(ActivationKind kind, const float* z, const float* y,
                              const float* dy, float* dz, float* dbias, int64_t rows,
                              int64_t cols) {
  if (kind != ActivationKind::kElu && kind != ActivationKind::kLinear) {
    activation_backward(kind, z, y, dy, dz, rows, cols);
    if (dbias != nullptr) bias_backward(dz, dbias, rows, cols);
    return;
  }
  const bool is_elu = kind == ActivationKind::kElu;
  // One pass by column blocks on one thread or when each thread's columns start on a cache line
  // in every row; otherwise (300 columns: 1,200-byte rows) dz by rows, then the sums of dz by
  // column blocks after a barrier (see for_each_column_block). The sums are the same either way.
  const bool parallel = rows * cols >= kParallelMinElements;
  const bool lines_per_block = column_blocks_own_their_lines(dz, cols, parallel);
#pragma omp parallel if (parallel)
  {
    const Range columns = thread_share(cols, kColumnGranule);
    if (lines_per_block) {
      for_each_block(columns, kColumnBlock, [&](int64_t j0, int64_t w) {
        elu_bias_backward_block(y, dy, dz, dbias, rows, cols, j0, w, is_elu);
      });
    } else {
      const Range r = thread_share(rows, 1);
      activation_backward(kind, nullptr, y + r.begin * cols, dy + r.begin * cols, dz + r.begin * cols,
                          r.end - r.begin, cols);
      if (dbias != nullptr) {
#pragma omp barrier
        for_each_block(columns, kColumnBlock, [&](int64_t j0, int64_t w) {
          elu_bias_backward_block(nullptr, dz, nullptr, dbias, rows, cols, j0, w, false);
        });
      }
    }
  }
}

void activation_bias_backward_ref(ActivationKind kind, const float* z, const float* y,
                                  const float* dy, float* dz, float* dbias, int64_t rows,
                                  int64_t cols) {
  activation_backward_ref(kind, z, y, dy, dz, rows, cols);
  if (dbias != nullptr) bias_backward_ref(dz, dbias, rows, cols);
}

void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols) {
  for_each_column_block(cols, kColumnBlock, rows * cols >= kParallelMinElements,
                        [&](int64_t j0, int64_t w) { column_sums_block(dy, dbias, rows, cols, j0, w); });
}

void bias_backward_ref(const float* dy, float* dbias, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += dy[r * cols + j];
    dbias[j] += static_cast<float>(sum);
  }
}

}  // namespace keel
