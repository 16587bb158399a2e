// GRU: Keras's gated recurrent unit (Cho et al. 2014), gates [z | r | h].
//
//   reset_after=True (TF2 default; PyTorch's and cuDNN's GRU), bias (2, 3u) = [input; recurrent]:
//     xz, xr, xh = x_t·K + b[0]      rz, rr, rh = h_{t-1}·U + b[1]
//     z = σ(xz + rz)  r = σ(xr + rr)  hh = tanh(xh + r·rh)
//   reset_after=False (the original; what TF.js supports), bias (3u,):
//     xz, xr, xh = x_t·K + b
//     z = σ(xz + h_{t-1}·U_z)  r = σ(xr + h_{t-1}·U_r)  hh = tanh(xh + (r·h_{t-1})·U_h)
//   h_t = z·h_{t-1} + (1 - z)·hh
//
// σ is recurrent_activation (sigmoid), tanh is activation. Variables gru/gru_cell/kernel:0
// (features, 3u), recurrent_kernel:0 (u, 3u), bias:0. return_state adds [h_T]. See recurrent.h.
#pragma once

#include "keel/layers/recurrent.h"

namespace keel {

class GRU : public Recurrent {
 public:
  explicit GRU(int64_t units, RecurrentOptions options = {});

  std::string class_name() const override { return "GRU"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<GRU>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  bool on_keras_fused_path() const override;
  void add_config(nlohmann::json& config) const override;
  VariableSpec bias_spec() const override;
  void ensure_cell_buffers(int64_t batch) override;
  void step_forward(int64_t t, int64_t batch, Mode mode) override;
  void step_backward(int64_t t, int64_t batch) override;
  void recurrent_parameter_gradients(int64_t batch, Write write) override;

 private:
  bool reset_after() const { return options().reset_after; }
  ScratchBuffer gates_;  // (T, batch, 3u): z, r, hh after their activations
  ScratchBuffer rec_;    // reset_after: (T, batch, 3u) h_{t-1}·U + b[1]
  ScratchBuffer drec_;   // reset_after: (T, batch, 3u) its gradient
  ScratchBuffer rh_;     // !reset_after: (T, batch, u) r·h_{t-1}
  ScratchBuffer dzr_;    // !reset_after: (T, batch, 2u) gradients of the z, r pre-activations
  ScratchBuffer dph_;    // !reset_after: (T, batch, u) gradient of the candidate's pre-activation
  ScratchBuffer u_zr_, u_h_;    // !reset_after: U's z|r columns (u, 2u) and h columns (u, u)
  ScratchBuffer du_zr_, du_h_;  // !reset_after: their gradients
  ScratchBuffer tmp_;    // (batch, 3u)
};

}  // namespace keel
