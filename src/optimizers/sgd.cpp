// SGD update loops (keras/optimizers/sgd.py update_step). The float expressions keep Keras's
// operand order: m = -g*lr + m*momentum is the same IEEE value as m*momentum - g*lr.
#include "keel/optimizers/sgd.h"

namespace keel {

SGD::SGD(const SGDOptions& o)
    : Optimizer("SGD", o.learning_rate, common_options(o)), momentum_(o.momentum),
      nesterov_(o.nesterov) {
  check_range(momentum_, 0.0, 1.0, "momentum", name());
}

std::vector<std::string> SGD::slot_names() const {
  if (momentum_ == 0.0 && !nesterov_) return {};
  return {"m"};
}

void SGD::update_step(float* w, const float* g, int64_t n, float* const* slots) {
  const float lr = this->lr();
  if (momentum_ == 0.0 && !nesterov_) {
    for (int64_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
    return;
  }
  const float mu = static_cast<float>(momentum_);
  float* m = slots[0];
  if (nesterov_) {
    for (int64_t i = 0; i < n; ++i) {
      const float step = g[i] * lr;
      m[i] = m[i] * mu - step;
      w[i] += m[i] * mu - step;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i];
    }
  }
}

void SGD::add_config(nlohmann::json& c) const {
  c["momentum"] = momentum_;
  c["nesterov"] = nesterov_;
}

}  // namespace keel
