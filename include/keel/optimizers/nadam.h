// keras.optimizers.Nadam (tf.keras >= 2.11), with t = iterations + 1:
//   u_t = beta_1 * (1 - 0.5 * 0.96^t),  u_{t+1} likewise,  P_t = u_1 * ... * u_t
//   m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
//   m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)
//   v_hat = v / (1 - beta_2^t);   w -= m_hat * lr / (sqrt(v_hat) + epsilon)
// (PyTorch's NAdam with momentum_decay = 1 is the same algorithm.) P_t is derived from
// iterations, so restoring iterations restores it: no extra checkpoint state.
#pragma once

#include "keel/optimizers/optimizer.h"

namespace keel {

struct NadamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

class Nadam final : public Optimizer {
 public:
  explicit Nadam(const NadamOptions& options = {});
  std::string class_name() const override { return "Nadam"; }

 protected:
  std::vector<std::string> slot_names() const override { return {"m", "v"}; }
  void prepare_step(int64_t t) override;
  void update_step(float* w, const float* g, int64_t size, float* const* slots) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double beta_1_, beta_2_, epsilon_;
  double u_product_ = 1.0;        // P_{product_step_}
  int64_t product_step_ = 0;
  float c_m_ = 0, c_g_ = 0, c_v_ = 0;  // per step: m_hat = c_m*m + c_g*g, v_hat = c_v*v
};

}  // namespace keel
