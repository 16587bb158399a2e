// GateMasks: Keras's `implementation=1` dropout of a recurrent layer, where each gate block g of a
// product a·W reads its own masked copy of the operand, (a ⊙ M_g)·W_g.
//
// Keras (K2 lstm.py / gru.py / simple_rnn.py, DropoutRNNCellMixin) samples its masks once per
// call, of 0 or 1/(1 - rate): (batch, width) reused at every timestep, one per gate with
// implementation 1 -- or, for the input of an LSTM / GRU on its fused path, one (batch, T, width)
// mask, a fresh one for every timestep (see Recurrent). keel keeps the plain GEMM for passes that
// drop nothing. Operands are time-major (T·batch rows); row r uses mask row r % mask_rows.
// Buffers are kept between calls: nothing is allocated once a batch of that size was seen.
#pragma once

#include <cstdint>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"

namespace keel {

class GateMasks {
 public:
  // Samples `gates` masks of (mask_rows, width), each element kept with probability 1 - rate,
  // and packs W (width, gates·units) into contiguous column blocks W_g (width, units).
  void sample(Rng& rng, double rate, int64_t mask_rows, int64_t width, int64_t gates,
              int64_t units, const float* w);
  bool active() const { return active_; }
  int64_t gates() const { return gates_; }
  void deactivate() { active_ = false; }
  // (mask_rows, width), the mask of gate g: 0 or 1/(1 - rate).
  const float* mask(int64_t g) const { return masks_.data() + g * rows_ * width_; }
  float* mutable_mask(int64_t g) { return masks_.data() + g * rows_ * width_; }

  // out[:, block g] (+)= (a ⊙ M_g)·W_g for gates g in [g0, g0 + n); a (rows, width), out row
  // stride out_stride with block g at column (g - g0)·units.
  void forward(const float* a, int64_t rows, int64_t g0, int64_t n, float* out,
               int64_t out_stride, bool accumulate);
  // da (+)= Σ_g (d[:, block g]·W_gᵀ) ⊙ M_g; d row stride d_stride, block g at (g - g0)·units.
  void backward_operand(const float* d, int64_t d_stride, int64_t rows, int64_t g0, int64_t n,
                        float* da, bool accumulate);
  // dW[:, block g] (+)= (a ⊙ M_g)ᵀ·d[:, block g] over every row; dW row stride dw_stride, block g
  // at column g·units (dW is the whole (width, gates·units) gradient).
  void backward_weights(const float* a, const float* d, int64_t d_stride, int64_t rows, int64_t g0,
                        int64_t n, float* dw, int64_t dw_stride, bool accumulate);

 private:
  // (a ⊙ M_g) for every row into masked_, rows (rows, width).
  const float* masked(const float* a, int64_t rows, int64_t g);
  // d's block into block_ (rows, units).
  const float* gather(const float* d, int64_t d_stride, int64_t rows, int64_t column);

  bool active_ = false;
  int64_t rows_ = 0, width_ = 0, gates_ = 0, units_ = 0;
  ScratchBuffer masks_;   // (gates, mask_rows, width)
  ScratchBuffer packed_;  // (gates, width, units): W's column blocks
  ScratchBuffer masked_;  // (rows, width)
  ScratchBuffer block_;   // (rows, units)
  ScratchBuffer product_;  // one GEMM result before it goes into its block
};

}  // namespace keel
