// Nadam update loop (keras/optimizers/nadam.py update_step, dense branch).
#include "keel/optimizers/nadam.h"

#include <cmath>

namespace keel {

Nadam::Nadam(const NadamOptions& o)
    : Optimizer("Nadam", o.learning_rate, common_options(o)), beta_1_(o.beta_1),
      beta_2_(o.beta_2), epsilon_(o.epsilon) {
  check_range(beta_1_, 0.0, 1.0, "beta_1", name(), false);
  check_range(beta_2_, 0.0, 1.0, "beta_2", name(), false);
  check_range(epsilon_, 0.0, 1.0e9, "epsilon", name());
}

void Nadam::prepare_step(int64_t t) {
  const double b1 = static_cast<float>(beta_1_), b2 = static_cast<float>(beta_2_);
  auto u = [&](int64_t step) { return b1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step))); };
  if (product_step_ != t - 1) {  // iterations were restored or skipped around: recompute
    u_product_ = 1.0;
    for (int64_t s = 1; s < t; ++s) u_product_ *= u(s);
  }
  const double u_t = u(t), u_next = u(t + 1);
  u_product_ *= u_t;
  product_step_ = t;
  c_m_ = static_cast<float>(u_next / (1.0 - u_product_ * u_next));
  c_g_ = static_cast<float>((1.0 - u_t) / (1.0 - u_product_));
  c_v_ = static_cast<float>(1.0 / (1.0 - std::pow(b2, static_cast<double>(t))));
}

void Nadam::update_step(float* w, const float* g, int64_t n, float* const* slots) {
  float* m = slots[0];
  float* v = slots[1];
  const float one_minus_b1 = static_cast<float>(1.0 - beta_1_);
  const float one_minus_b2 = static_cast<float>(1.0 - beta_2_);
  const float eps = static_cast<float>(epsilon_), lr = this->lr();
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * one_minus_b1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
    const float m_hat = c_m_ * m[i] + c_g_ * g[i];
    const float v_hat = v[i] * c_v_;
    w[i] -= (m_hat * lr) / (std::sqrt(v_hat) + eps);
  }
}

void Nadam::add_config(nlohmann::json& c) const {
  c["beta_1"] = beta_1_;
  c["beta_2"] = beta_2_;
  c["epsilon"] = epsilon_;
}

}  // namespace keel
