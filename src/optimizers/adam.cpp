// Adam / AdamW update loops (keras/optimizers/adam.py, adamw.py update_step, dense branch).
#include "keel/optimizers/adam.h"

#include <algorithm>
#include <cmath>

#include "keel/core/error.h"

namespace keel {

Adam::Adam(const AdamOptions& o) : Adam("Adam", o) {}

Adam::Adam(std::string default_name, const AdamOptions& o)
    : Optimizer(std::move(default_name), o.learning_rate, common_options(o)), beta_1_(o.beta_1),
      beta_2_(o.beta_2), epsilon_(o.epsilon), amsgrad_(o.amsgrad) {
  check_range(beta_1_, 0.0, 1.0, "beta_1", name(), false);
  check_range(beta_2_, 0.0, 1.0, "beta_2", name(), false);
  check_range(epsilon_, 0.0, 1.0e9, "epsilon", name());
}

std::vector<std::string> Adam::slot_names() const {
  if (amsgrad_) return {"m", "v", "vhat"};
  return {"m", "v"};
}

void Adam::prepare_step(int64_t t) {
  // Keras computes these in float32 from float32 beta powers; double then one rounding here.
  const double b1 = static_cast<float>(beta_1_), b2 = static_cast<float>(beta_2_);
  const double td = static_cast<double>(t);
  alpha_ = static_cast<float>(lr() * std::sqrt(1.0 - std::pow(b2, td)) / (1.0 - std::pow(b1, td)));
}

void Adam::update_step(float* w, const float* g, int64_t n, float* const* slots) {
  float* m = slots[0];
  float* v = slots[1];
  const float one_minus_b1 = static_cast<float>(1.0 - beta_1_);
  const float one_minus_b2 = static_cast<float>(1.0 - beta_2_);
  const float eps = static_cast<float>(epsilon_);
  const float alpha = alpha_;
  if (!amsgrad_) {
    for (int64_t i = 0; i < n; ++i) {
      m[i] += (g[i] - m[i]) * one_minus_b1;
      v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
      w[i] -= (m[i] * alpha) / (std::sqrt(v[i]) + eps);
    }
    return;
  }
  float* vhat = slots[2];
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * one_minus_b1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
    vhat[i] = std::max(vhat[i], v[i]);
    w[i] -= (m[i] * alpha) / (std::sqrt(vhat[i]) + eps);
  }
}

void Adam::add_config(nlohmann::json& c) const {
  c["beta_1"] = beta_1_;
  c["beta_2"] = beta_2_;
  c["epsilon"] = epsilon_;
  c["amsgrad"] = amsgrad_;
}

namespace {
AdamOptions adam_options(const AdamWOptions& o) {
  KEEL_CHECK(o.weight_decay.has_value(), "optimizer 'AdamW': weight_decay is unset; expected a "
             "float (Keras: 'Missing value of `weight_decay` which is required')");
  return {o.learning_rate, o.beta_1,   o.beta_2,          o.epsilon,   o.amsgrad,
          o.weight_decay,  o.clipnorm, o.global_clipnorm, o.clipvalue, o.agc,
          o.on_nonfinite,  o.name};
}
}  // namespace

AdamW::AdamW(const AdamWOptions& o) : Adam("AdamW", adam_options(o)) {}

}  // namespace keel
