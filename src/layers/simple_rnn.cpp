#include "keel/layers/simple_rnn.h"

#include "keel/kernels/activations.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/recurrent_gates.h"
#include "layer_config.h"

namespace keel {

SimpleRNN::SimpleRNN(int64_t units, RecurrentOptions options)
    : Recurrent("simple_rnn", "simple_rnn_cell", units, std::move(options), /*gates=*/1,
                /*states=*/1) {}

void SimpleRNN::step_forward(int64_t t, int64_t batch, Mode) {
  const int64_t u = units();
  float* z = xp(t, batch);
  if (t > 0) recurrent_product(t, batch, z, /*accumulate=*/true);
  gate_activation_forward(options().activation.kind(), z, h(t + 1, batch), batch * u);
}

void SimpleRNN::step_backward(int64_t t, int64_t batch) {
  const int64_t u = units();
  float* dz = dxp(t, batch);
  activation_backward(options().activation.kind(), xp(t, batch), h(t + 1, batch), dh(), dz, batch,
                      u);
  recurrent_product_backward(dz, batch, dh(), /*accumulate=*/false);
}

void SimpleRNN::recurrent_parameter_gradients(int64_t batch, Write write) {
  recurrent_kernel_gradient(dxp(0, batch), batch, write);
  if (bias() != nullptr && bias()->grad != nullptr) sum_dxp_columns(bias()->grad, batch, write);
}

std::unique_ptr<Layer> SimpleRNN::from_config(const nlohmann::json& config) {
  RecurrentOptions o = options_from_config(config, "SimpleRNN", /*gated=*/false, {});
  return std::make_unique<SimpleRNN>(layer_config::get_int(config, "SimpleRNN", "units", 0),
                                     std::move(o));
}

}  // namespace keel
