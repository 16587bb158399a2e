// RMSprop update loop (keras/optimizers/rmsprop.py update_step, dense branch). Slots exist only
// when used, as in Keras: "velocity", then "momentum" if momentum > 0, then "average_gradient"
// if centered.
#include "keel/optimizers/rmsprop.h"

#include <cmath>

namespace keel {

RMSprop::RMSprop(const RMSpropOptions& o)
    : Optimizer("RMSprop", o.learning_rate, common_options(o)), rho_(o.rho),
      momentum_(o.momentum), epsilon_(o.epsilon), centered_(o.centered) {
  check_range(rho_, 0.0, 1.0, "rho", name());
  check_range(momentum_, 0.0, 1.0, "momentum", name());
  check_range(epsilon_, 0.0, 1.0e9, "epsilon", name());
}

std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names{"velocity"};
  if (momentum_ > 0.0) names.push_back("momentum");
  if (centered_) names.push_back("average_gradient");
  return names;
}

void RMSprop::update_step(float* w, const float* g, int64_t n, float* const* slots) {
  float* vel = slots[0];
  float* mom = momentum_ > 0.0 ? slots[1] : nullptr;
  float* avg = centered_ ? slots[momentum_ > 0.0 ? 2 : 1] : nullptr;
  const float rho = static_cast<float>(rho_), one_minus_rho = static_cast<float>(1.0 - rho_);
  const float mu = static_cast<float>(momentum_), eps = static_cast<float>(epsilon_);
  const float lr = this->lr();
  for (int64_t i = 0; i < n; ++i) {
    vel[i] = rho * vel[i] + one_minus_rho * (g[i] * g[i]);
    float denom = vel[i] + eps;
    if (avg) {
      avg[i] = rho * avg[i] + one_minus_rho * g[i];
      denom = vel[i] - avg[i] * avg[i] + eps;
    }
    const float increment = lr * g[i] / std::sqrt(denom);
    if (mom) {
      mom[i] = mu * mom[i] + increment;
      w[i] -= mom[i];
    } else {
      w[i] -= increment;
    }
  }
}

void RMSprop::add_config(nlohmann::json& c) const {
  c["rho"] = rho_;
  c["momentum"] = momentum_;
  c["epsilon"] = epsilon_;
  c["centered"] = centered_;
}

}  // namespace keel
