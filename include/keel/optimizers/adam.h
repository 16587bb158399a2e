// keras.optimizers.Adam / AdamW (tf.keras >= 2.11), epsilon "hat" placement:
//   m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   w -= m * alpha / (sqrt(v) + epsilon)          (amsgrad: v -> vhat = max(vhat, v))
// This differs from PyTorch's Adam, whose epsilon is added to sqrt(v_hat) (the two agree only
// for epsilon = 0). AdamW is Adam with the base optimizer's decoupled weight decay
// (w -= w * wd * lr before the update), default 0.004 as in Keras.
#pragma once

#include "keel/optimizers/optimizer.h"

namespace keel {

struct AdamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

class Adam : public Optimizer {
 public:
  explicit Adam(const AdamOptions& options = {});
  std::string class_name() const override { return "Adam"; }

 protected:
  Adam(std::string default_name, const AdamOptions& options);
  std::vector<std::string> slot_names() const override;
  void prepare_step(int64_t t) override;
  void update_step(float* w, const float* g, int64_t size, float* const* slots) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double beta_1_, beta_2_, epsilon_;
  bool amsgrad_;
  float alpha_ = 0.0f;  // per step
};

// weight_decay defaults to 0.004 (Keras AdamW); pass .weight_decay explicitly to change it.
struct AdamWOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  std::optional<double> weight_decay = 0.004;
  std::optional<double> clipnorm{};
  std::optional<double> global_clipnorm{};
  std::optional<double> clipvalue{};
  std::optional<double> agc{};
  NonFinitePolicy on_nonfinite = NonFinitePolicy::kError;
  std::string name{};
};

class AdamW final : public Adam {
 public:
  explicit AdamW(const AdamWOptions& options = {});
  std::string class_name() const override { return "AdamW"; }
};

}  // namespace keel
