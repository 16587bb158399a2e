// Adagrad update loop (keras/optimizers/adagrad.py update_step, dense branch).
#include "keel/optimizers/adagrad.h"

#include <cmath>

namespace keel {

Adagrad::Adagrad(const AdagradOptions& o)
    : Optimizer("Adagrad", o.learning_rate, common_options(o)),
      initial_accumulator_value_(o.initial_accumulator_value), epsilon_(o.epsilon) {
  check_range(initial_accumulator_value_, 0.0, 1.0e9, "initial_accumulator_value", name());
  check_range(epsilon_, 0.0, 1.0e9, "epsilon", name());
}

void Adagrad::update_step(float* w, const float* g, int64_t n, float* const* slots) {
  float* acc = slots[0];
  const float eps = static_cast<float>(epsilon_), lr = this->lr();
  for (int64_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / std::sqrt(acc[i] + eps);
  }
}

void Adagrad::add_config(nlohmann::json& c) const {
  c["initial_accumulator_value"] = initial_accumulator_value_;
  c["epsilon"] = epsilon_;
}

}  // namespace keel
