// keras.optimizers.RMSprop (tf.keras >= 2.11); epsilon inside the square root:
//   velocity = rho * velocity + (1 - rho) * g^2
//   centered: average_gradient = rho * ag + (1 - rho) * g; denom = velocity - ag^2 + epsilon
//   else:     denom = velocity + epsilon
//   increment = lr * g / sqrt(denom)
//   momentum > 0: momentum_slot = momentum * momentum_slot + increment; w -= momentum_slot
//   else:         w -= increment
// (PyTorch adds epsilon outside the root; the two agree only for epsilon = 0.)
#pragma once

#include "keel/optimizers/optimizer.h"

namespace keel {

struct RMSpropOptions {
  double learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(const RMSpropOptions& options = {});
  std::string class_name() const override { return "RMSprop"; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(float* w, const float* g, int64_t size, float* const* slots) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
};

}  // namespace keel
