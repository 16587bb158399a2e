// GEMM: C = op(A)·op(B) (or C += ...) on row-major float matrices, through oneDNN matmul.
//
// The three products of a Dense layer:
//   forward   y  = x·W          gemm(x, W, y, batch, units, fan_in, false, false, false)
//   backward  dW += xᵀ·dy       gemm(x, dy, dW, fan_in, units, batch, true, false, true)
//   backward  dx = dy·Wᵀ        gemm(dy, W, dx, batch, fan_in, units, false, true, false)
//
// Products with m == 1 row (single-sample predict) and no transposes skip oneDNN and go to
// matvec (keel/kernels/matvec.h), because oneDNN's fixed per-call cost (~µs) would dominate.
// Otherwise oneDNN primitives are created once per (M, N, K, transposes, accumulate, thread count) and cached
// per calling thread, so steady-state calls only rebind data pointers. The thread count is in the
// key because oneDNN fixes its work split (and so the summation order) when a primitive is
// created; with it in the key, a given thread count always gives the same bits.
#pragma once

#include <cstdint>

#include "keel/kernels/activation_kind.h"

namespace keel {

// a: (m, k) row-major, or (k, m) when trans_a
// b: (k, n) row-major, or (n, k) when trans_b
// c: (m, n) row-major; overwritten, or accumulated into (c += a·b) when accumulate
// c must not alias a or b.
void gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, bool accumulate);

// Dense forward in one oneDNN call: y (m, n) = act(x (m, k) · w (k, n) + bias (n)), the bias add
// and ELU done by the primitive on each output tile while it is hot (no separate pass over y).
// Handles act = elu / linear with a bias and m > 1; returns false (nothing written) otherwise,
// and the caller uses gemm + bias_activation_forward. oneDNN's ELU rounds like any other
// correctly-implemented exp (within a few ulp of Keras's), not bit-identically to keel's own.
bool gemm_bias_activation(const float* x, const float* w, const float* bias, float* y, int64_t m,
                          int64_t n, int64_t k, ActivationKind kind);

// Mixed precision (bf16.h): c (f32) = op(a)·op(b), or c += ..., with a and b in bf16 and the
// products summed in f32, on the kernels bf16_kernels() names (kNative: oneDNN's bf16 matmul,
// cached like gemm's; kEmulated: widened to f32 and gemm). Under kNone it is a keel::Error: callers
// check bf16_kernels() first and compute in f32.
void gemm_bf16(const uint16_t* a, const uint16_t* b, float* c, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, bool accumulate);

// Naive triple loop with double accumulation; same contract. For tests.
void gemm_ref(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, bool accumulate);

// Number of primitives in the calling thread's cache (for tests of the caching itself).
int64_t gemm_cache_size();

}  // namespace keel
