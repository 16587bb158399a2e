#include "keel/layers/gru.h"

#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/recurrent_gates.h"
#include "layer_config.h"

namespace keel {

GRU::GRU(int64_t units, RecurrentOptions options)
    : Recurrent("gru", "gru_cell", units, std::move(options), /*gates=*/3, /*states=*/1) {}

VariableSpec GRU::bias_spec() const {
  VariableSpec spec = Recurrent::bias_spec();
  if (reset_after()) spec.shape = {2, 3 * units()};
  return spec;
}

bool GRU::on_keras_fused_path() const { return meets_keras_fused_conditions() && options().reset_after; }

void GRU::add_config(nlohmann::json& config) const {
  config["recurrent_activation"] = options().recurrent_activation.keras_name();
  config["implementation"] = options().implementation;
  config["reset_after"] = reset_after();
}

void GRU::ensure_cell_buffers(int64_t batch) {
  const int64_t T = timesteps(), u = units();
  gates_.ensure(T * batch * 3 * u);
  tmp_.ensure(batch * 3 * u);
  if (reset_after()) {
    rec_.ensure(T * batch * 3 * u);
    drec_.ensure(T * batch * 3 * u);
  } else {
    rh_.ensure(T * batch * u);
    dzr_.ensure(T * batch * 2 * u);
    dph_.ensure(T * batch * u);
    u_zr_.ensure(u * 2 * u);
    u_h_.ensure(u * u);
    du_zr_.ensure(u * 2 * u);
    du_h_.ensure(u * u);
  }
}

void GRU::step_forward(int64_t t, int64_t batch, Mode) {
  const int64_t u = units(), G = 3 * u;
  const ActivationKind act = options().activation.kind();
  const ActivationKind ract = options().recurrent_activation.kind();
  const float* U = recurrent_kernel().value;
  const float* h_prev = h(t, batch);
  float* x = xp(t, batch);  // becomes the pre-activations [xz + rz, xr + rr, xh + ...]
  float* g = gates_.data() + t * batch * G;
  if (reset_after()) {
    float* rec = rec_.data() + t * batch * G;
    if (t > 0) {
      recurrent_product(t, batch, rec, /*accumulate=*/false);
    } else {
      std::fill_n(rec, batch * G, 0.0f);
    }
    if (bias() != nullptr) {
      const float* b1 = bias()->value + G;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < G; ++j) rec[b * G + j] += b1[j];
    }
    for (int64_t b = 0; b < batch; ++b) {
      float* xr = x + b * G;
      const float* rr = rec + b * G;
      for (int64_t j = 0; j < 2 * u; ++j) xr[j] += rr[j];
      gate_activation_forward(ract, xr, g + b * G, 2 * u);
      const float* r = g + b * G + u;
      for (int64_t j = 0; j < u; ++j) xr[2 * u + j] += r[j] * rr[2 * u + j];
      gate_activation_forward(act, xr + 2 * u, g + b * G + 2 * u, u);
    }
  } else {
    if (t == 0) {  // U's column blocks, packed once per forward
      for (int64_t i = 0; i < u; ++i) {
        std::memcpy(u_zr_.data() + i * 2 * u, U + i * G, static_cast<size_t>(2 * u) * sizeof(float));
        std::memcpy(u_h_.data() + i * u, U + i * G + 2 * u, static_cast<size_t>(u) * sizeof(float));
      }
    }
    float* zr = tmp_.data();  // (batch, 2u) h_{t-1}·U_zr
    GateMasks* masks = recurrent_masks();
    if (t > 0 && masks != nullptr) {
      masks->forward(h_prev, batch, 0, 2, zr, 2 * u, false);
    } else if (t > 0) {
      gemm(h_prev, u_zr_.data(), zr, batch, 2 * u, u, false, false, false);
    } else {
      std::fill_n(zr, batch * 2 * u, 0.0f);
    }
    float* rh = rh_.data() + t * batch * u;
    for (int64_t b = 0; b < batch; ++b) {
      float* xr = x + b * G;
      for (int64_t j = 0; j < 2 * u; ++j) xr[j] += zr[b * 2 * u + j];
      gate_activation_forward(ract, xr, g + b * G, 2 * u);
      const float* r = g + b * G + u;
      for (int64_t j = 0; j < u; ++j) rh[b * u + j] = r[j] * h_prev[b * u + j];
      if (masks != nullptr) {  // r·(h_{t-1} ⊙ mask of the candidate gate)
        const float* m = masks->mask(2) + b * u;
        for (int64_t j = 0; j < u; ++j) rh[b * u + j] *= m[j];
      }
    }
    float* rec_h = tmp_.data();  // (batch, u) (r·h_{t-1})·U_h
    gemm(rh, u_h_.data(), rec_h, batch, u, u, false, false, false);
    for (int64_t b = 0; b < batch; ++b) {
      float* xr = x + b * G;
      for (int64_t j = 0; j < u; ++j) xr[2 * u + j] += rec_h[b * u + j];
      gate_activation_forward(act, xr + 2 * u, g + b * G + 2 * u, u);
    }
  }
  float* h_new = h(t + 1, batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float* z = g + b * G;
    const float* hh = z + 2 * u;
    for (int64_t j = 0; j < u; ++j) {
      h_new[b * u + j] = z[j] * h_prev[b * u + j] + (1.0f - z[j]) * hh[j];
    }
  }
}

void GRU::step_backward(int64_t t, int64_t batch) {
  const int64_t u = units(), G = 3 * u;
  const ActivationKind act = options().activation.kind();
  const ActivationKind ract = options().recurrent_activation.kind();
  const float* g = gates_.data() + t * batch * G;
  const float* pre = xp(t, batch);
  const float* h_prev = h(t, batch);
  float* dh_t = dh();
  float* dx = dxp(t, batch);
  float* da = tmp_.data();  // (batch, 3u): gradients w.r.t. z and hh (the r block filled below)
  for (int64_t b = 0; b < batch; ++b) {
    const float* z = g + b * G;
    const float* hh = z + 2 * u;
    for (int64_t j = 0; j < u; ++j) {
      const float d = dh_t[b * u + j];
      da[b * G + j] = d * (h_prev[b * u + j] - hh[j]);
      da[b * G + 2 * u + j] = d * (1.0f - z[j]);
      dh_t[b * u + j] = d * z[j];  // the direct path z·h_{t-1}; the recurrent GEMM adds to it
    }
  }
  // Candidate: d(pre_h) into dx's h block.
  for (int64_t b = 0; b < batch; ++b) {
    activation_backward(act, pre + b * G + 2 * u, g + b * G + 2 * u, da + b * G + 2 * u,
                        dx + b * G + 2 * u, 1, u);
  }
  if (reset_after()) {
    const float* rec = rec_.data() + t * batch * G;
    float* drec = drec_.data() + t * batch * G;
    for (int64_t b = 0; b < batch; ++b) {
      const float* r = g + b * G + u;
      for (int64_t j = 0; j < u; ++j) {
        const float dph = dx[b * G + 2 * u + j];
        da[b * G + u + j] = dph * rec[b * G + 2 * u + j];  // dr
        drec[b * G + 2 * u + j] = dph * r[j];
      }
      activation_backward(ract, pre + b * G, g + b * G, da + b * G, dx + b * G, 1, 2 * u);
      std::memcpy(drec + b * G, dx + b * G, static_cast<size_t>(2 * u) * sizeof(float));
    }
    if (t > 0) recurrent_product_backward(drec, batch, dh_t, /*accumulate=*/true);
  } else {
    float* dph = dph_.data() + t * batch * u;
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(dph + b * u, dx + b * G + 2 * u, static_cast<size_t>(u) * sizeof(float));
    // d(r·h_{t-1}) = dph·U_hᵀ, into a (batch, u) buffer: the dzr slot of this step as scratch.
    float* dzr = dzr_.data() + t * batch * 2 * u;
    float* d_rh = dzr;  // (batch, u) before dzr is written
    gemm(dph, u_h_.data(), d_rh, batch, u, u, false, true, false);
    GateMasks* masks = recurrent_masks();
    for (int64_t b = 0; b < batch; ++b) {
      const float* r = g + b * G + u;
      const float* m = masks != nullptr ? masks->mask(2) + b * u : nullptr;
      for (int64_t j = 0; j < u; ++j) {
        const float d = d_rh[b * u + j];
        const float keep = m != nullptr ? m[j] : 1.0f;  // the candidate gate's mask
        da[b * G + u + j] = d * h_prev[b * u + j] * keep;  // dr
        dh_t[b * u + j] += d * r[j] * keep;
      }
    }
    for (int64_t b = 0; b < batch; ++b) {
      activation_backward(ract, pre + b * G, g + b * G, da + b * G, dx + b * G, 1, 2 * u);
    }
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(dzr + b * 2 * u, dx + b * G, static_cast<size_t>(2 * u) * sizeof(float));
    if (t > 0 && masks != nullptr) {
      masks->backward_operand(dzr, 2 * u, batch, 0, 2, dh_t, true);
    } else if (t > 0) {
      gemm(dzr, u_zr_.data(), dh_t, batch, u, 2 * u, false, true, true);
    }
  }
}

void GRU::recurrent_parameter_gradients(int64_t batch, Write write) {
  const int64_t u = units(), G = 3 * u, T = timesteps();
  float* dU = recurrent_kernel().grad;
  if (reset_after()) {
    recurrent_kernel_gradient(drec_.data(), batch, write);
  } else {
    // h_{t-1}ᵀ·dzr and (r·h_{t-1})ᵀ·dph over every step, then into U's column blocks.
    // (With recurrent dropout, the z and r blocks through their masks; rh holds the masked h.)
    GateMasks* masks = recurrent_masks();
    if (masks != nullptr) {
      masks->backward_weights(h(0, batch), dzr_.data(), 2 * u, T * batch, 0, 2, dU, G,
                              write == Write::kAdd);
    } else {
      gemm(h(0, batch), dzr_.data(), du_zr_.data(), u, 2 * u, T * batch, true, false, false);
    }
    gemm(rh_.data(), dph_.data(), du_h_.data(), u, u, T * batch, true, false, false);
    for (int64_t i = 0; i < u; ++i) {
      float* row = dU + i * G;
      const float* zr = du_zr_.data() + i * 2 * u;
      const float* hh = du_h_.data() + i * u;
      if (masks == nullptr) {
        for (int64_t j = 0; j < 2 * u; ++j)
          row[j] = (write == Write::kAdd ? row[j] : 0.0f) + zr[j];
      }
      for (int64_t j = 0; j < u; ++j)
        row[2 * u + j] = (write == Write::kAdd ? row[2 * u + j] : 0.0f) + hh[j];
    }
  }
  if (bias() == nullptr || bias()->grad == nullptr) return;
  sum_dxp_columns(bias()->grad, batch, write);
  if (reset_after()) {
    float* db1 = bias()->grad + G;
    if (write == Write::kSet) std::fill_n(db1, G, 0.0f);
    const float* drec = drec_.data();
    for (int64_t r = 0; r < T * batch; ++r)
      for (int64_t j = 0; j < G; ++j) db1[j] += drec[r * G + j];
  }
}

std::unique_ptr<Layer> GRU::from_config(const nlohmann::json& config) {
  RecurrentOptions o = options_from_config(config, "GRU", /*gated=*/true, {"reset_after"});
  o.reset_after = layer_config::get_bool(config, "GRU", "reset_after", true);
  return std::make_unique<GRU>(layer_config::get_int(config, "GRU", "units", 0), std::move(o));
}

}  // namespace keel
