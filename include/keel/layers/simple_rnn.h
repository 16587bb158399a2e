// SimpleRNN: Keras's fully-connected RNN, h_t = activation(x_t·K + b + h_{t-1}·U) (tanh default).
// Variables: simple_rnn/simple_rnn_cell/kernel:0 (features, u), recurrent_kernel:0 (u, u),
// bias:0 (u,). return_state adds [h_T]. See recurrent.h.
#pragma once

#include "keel/layers/recurrent.h"

namespace keel {

class SimpleRNN : public Recurrent {
 public:
  explicit SimpleRNN(int64_t units, RecurrentOptions options = {});

  std::string class_name() const override { return "SimpleRNN"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<SimpleRNN>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void add_config(nlohmann::json&) const override {}
  void ensure_cell_buffers(int64_t) override {}
  void step_forward(int64_t t, int64_t batch, Mode mode) override;
  void step_backward(int64_t t, int64_t batch) override;
  void recurrent_parameter_gradients(int64_t batch, Write write) override;
};

}  // namespace keel
