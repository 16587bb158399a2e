// LSTM: Keras's TF2 LSTM (Hochreiter & Schmidhuber 1997, with a forget gate), gates [i | f | c | o]:
//
//   z = x_t·K + h_{t-1}·U + b
//   i = σ(z_i)  f = σ(z_f)  c_t = f·c_{t-1} + i·tanh(z_c)  o = σ(z_o)  h_t = o·tanh(c_t)
//
// σ is recurrent_activation (sigmoid), tanh is activation. unit_forget_bias (default) starts the
// forget block of the bias at 1. Variables: lstm/lstm_cell/kernel:0 (features, 4u),
// recurrent_kernel:0 (u, 4u), bias:0 (4u,). return_state adds [h_T, c_T]. See recurrent.h.
#pragma once

#include "keel/layers/recurrent.h"

namespace keel {

class LSTM : public Recurrent {
 public:
  explicit LSTM(int64_t units, RecurrentOptions options = {});

  std::string class_name() const override { return "LSTM"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LSTM>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  bool on_keras_fused_path() const override;
  void add_config(nlohmann::json& config) const override;
  VariableSpec bias_spec() const override;
  void ensure_cell_buffers(int64_t batch) override;
  void step_forward(int64_t t, int64_t batch, Mode mode) override;
  void step_backward(int64_t t, int64_t batch) override;
  void recurrent_parameter_gradients(int64_t batch, Write write) override;
  const float* final_extra_state(int64_t s, int64_t batch) const override;
  void seed_extra_state_gradient(int64_t s, const float* d, int64_t batch) override;

 private:
  float* c(int64_t t, int64_t batch) { return c_.data() + t * batch * units(); }
  ScratchBuffer gates_;  // (T, batch, 4u): i, f, tanh(z_c), o after their activations
  ScratchBuffer c_;      // (T + 1, batch, u): cell states, c(0) = 0
  ScratchBuffer tc_;     // (T, batch, u): activation(c_t)
  ScratchBuffer dc_;     // (batch, u): dL/dc_t while walking back
  ScratchBuffer da_;     // (batch, 4u): gradients w.r.t. the activated gates
};

}  // namespace keel
