// keras.optimizers.Adagrad (tf.keras >= 2.11):
//   accumulator (starts at initial_accumulator_value) += g^2
//   w -= lr * g / sqrt(accumulator + epsilon)
#pragma once

#include "keel/optimizers/optimizer.h"

namespace keel {

struct AdagradOptions {
  double learning_rate = 0.001;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

class Adagrad final : public Optimizer {
 public:
  explicit Adagrad(const AdagradOptions& options = {});
  std::string class_name() const override { return "Adagrad"; }

 protected:
  std::vector<std::string> slot_names() const override { return {"accumulator"}; }
  float slot_initial_value(size_t) const override {
    return static_cast<float>(initial_accumulator_value_);
  }
  void update_step(float* w, const float* g, int64_t size, float* const* slots) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double initial_accumulator_value_, epsilon_;
};

}  // namespace keel
