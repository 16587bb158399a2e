#include "keel/layers/lstm.h"

#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/recurrent_gates.h"
#include "layer_config.h"

namespace keel {

LSTM::LSTM(int64_t units, RecurrentOptions options)
    : Recurrent("lstm", "lstm_cell", units, std::move(options), /*gates=*/4, /*states=*/2) {}

VariableSpec LSTM::bias_spec() const {
  VariableSpec spec = Recurrent::bias_spec();
  if (options().unit_forget_bias) {
    // Keras: concatenate([bias_initializer((u,)), ones((u,)), bias_initializer((2u,))]).
    spec.pieces = {{units(), options().bias_initializer},
                   {units(), Initializer("ones")},
                   {2 * units(), options().bias_initializer}};
  }
  return spec;
}

bool LSTM::on_keras_fused_path() const { return meets_keras_fused_conditions(); }

void LSTM::add_config(nlohmann::json& config) const {
  config["recurrent_activation"] = options().recurrent_activation.keras_name();
  config["unit_forget_bias"] = options().unit_forget_bias;
  config["implementation"] = options().implementation;
}

void LSTM::ensure_cell_buffers(int64_t batch) {
  const int64_t T = timesteps(), u = units();
  gates_.ensure(T * batch * 4 * u);
  c_.ensure((T + 1) * batch * u);
  tc_.ensure(T * batch * u);
  dc_.ensure(batch * u);
  da_.ensure(batch * 4 * u);
}

void LSTM::step_forward(int64_t t, int64_t batch, Mode) {
  const int64_t u = units(), G = 4 * u;
  const ActivationKind act = options().activation.kind();
  const ActivationKind ract = options().recurrent_activation.kind();
  float* z = xp(t, batch);
  if (t == 0) std::fill_n(c(0, batch), batch * u, 0.0f);
  // z = (x_t·K + b) + h_{t-1}·U; h_0 = 0 adds nothing.
  if (t > 0) recurrent_product(t, batch, z, /*accumulate=*/true);
  float* a = gates_.data() + t * batch * G;
  for (int64_t b = 0; b < batch; ++b) {
    const float* zr = z + b * G;
    float* ar = a + b * G;
    gate_activation_forward(ract, zr, ar, 2 * u);               // i, f
    gate_activation_forward(act, zr + 2 * u, ar + 2 * u, u);    // candidate
    gate_activation_forward(ract, zr + 3 * u, ar + 3 * u, u);   // o
  }
  const float* c_prev = c(t, batch);
  float* c_new = c(t + 1, batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float* ar = a + b * G;
    const float* cp = c_prev + b * u;
    float* cn = c_new + b * u;
    for (int64_t j = 0; j < u; ++j) cn[j] = ar[u + j] * cp[j] + ar[j] * ar[2 * u + j];
  }
  float* tc = tc_.data() + t * batch * u;
  gate_activation_forward(act, c_new, tc, batch * u);
  float* h_new = h(t + 1, batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float* o = a + b * G + 3 * u;
    for (int64_t j = 0; j < u; ++j) h_new[b * u + j] = o[j] * tc[b * u + j];
  }
}

const float* LSTM::final_extra_state(int64_t, int64_t batch) const {
  return c_.data() + timesteps() * batch * units();
}

void LSTM::seed_extra_state_gradient(int64_t, const float* d, int64_t batch) {
  const int64_t n = batch * units();
  if (d == nullptr) {
    std::fill_n(dc_.data(), n, 0.0f);
  } else {
    std::memcpy(dc_.data(), d, static_cast<size_t>(n) * sizeof(float));
  }
}

void LSTM::step_backward(int64_t t, int64_t batch) {
  const int64_t u = units(), G = 4 * u;
  const ActivationKind act = options().activation.kind();
  const ActivationKind ract = options().recurrent_activation.kind();
  const float* a = gates_.data() + t * batch * G;
  const float* tc = tc_.data() + t * batch * u;
  const float* c_prev = c(t, batch);
  const float* c_new = c(t + 1, batch);
  float* dh_t = dh();
  float* dc = dc_.data();
  float* da = da_.data();
  // dL/dc_t += dL/dh_t · o · activation'(c_t); da (first u columns) as scratch.
  for (int64_t b = 0; b < batch; ++b) {
    const float* o = a + b * G + 3 * u;
    for (int64_t j = 0; j < u; ++j) da[b * u + j] = dh_t[b * u + j] * o[j];
  }
  activation_backward(act, c_new, tc, da, da, batch, u);
  for (int64_t i = 0; i < batch * u; ++i) dc[i] += da[i];
  // Gradients w.r.t. the activated gates; dc becomes dL/dc_{t-1}.
  for (int64_t b = 0; b < batch; ++b) {
    const float* ar = a + b * G;
    float* dar = da + b * G;
    const float* dcr = dc + b * u;
    const float* cp = c_prev + b * u;
    const float* tcr = tc + b * u;
    const float* dhr = dh_t + b * u;
    for (int64_t j = 0; j < u; ++j) {
      dar[j] = dcr[j] * ar[2 * u + j];          // i
      dar[u + j] = dcr[j] * cp[j];              // f
      dar[2 * u + j] = dcr[j] * ar[j];          // candidate
      dar[3 * u + j] = dhr[j] * tcr[j];         // o
    }
  }
  for (int64_t b = 0; b < batch; ++b) {
    float* dcr = dc + b * u;
    const float* f = a + b * G + u;
    for (int64_t j = 0; j < u; ++j) dcr[j] *= f[j];
  }
  // Through the gate activations (pre-activations are in xp(t)).
  const float* z = xp(t, batch);
  float* dz = dxp(t, batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float* zr = z + b * G;
    const float* ar = a + b * G;
    const float* dar = da + b * G;
    float* dzr = dz + b * G;
    activation_backward(ract, zr, ar, dar, dzr, 1, 2 * u);
    activation_backward(act, zr + 2 * u, ar + 2 * u, dar + 2 * u, dzr + 2 * u, 1, u);
    activation_backward(ract, zr + 3 * u, ar + 3 * u, dar + 3 * u, dzr + 3 * u, 1, u);
  }
  // dL/dh_{t-1} = dz·Uᵀ.
  recurrent_product_backward(dz, batch, dh_t, /*accumulate=*/false);
}

void LSTM::recurrent_parameter_gradients(int64_t batch, Write write) {
  recurrent_kernel_gradient(dxp(0, batch), batch, write);
  if (bias() != nullptr && bias()->grad != nullptr) sum_dxp_columns(bias()->grad, batch, write);
}

std::unique_ptr<Layer> LSTM::from_config(const nlohmann::json& config) {
  RecurrentOptions o = options_from_config(config, "LSTM", /*gated=*/true, {"unit_forget_bias"});
  o.unit_forget_bias = layer_config::get_bool(config, "LSTM", "unit_forget_bias", true);
  return std::make_unique<LSTM>(layer_config::get_int(config, "LSTM", "units", 0), std::move(o));
}

}  // namespace keel
