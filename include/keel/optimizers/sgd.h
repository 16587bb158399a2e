// keras.optimizers.SGD (tf.keras >= 2.11): velocity form, m starts at zero.
//   momentum == 0:  w -= lr * g                      (no slot allocated; same values as Keras)
//   momentum  > 0:  m = momentum * m - lr * g; w += m
//   nesterov:       m = momentum * m - lr * g; w += momentum * m - lr * g
#pragma once

#include "keel/optimizers/optimizer.h"

namespace keel {

struct SGDOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;  // [0, 1]
  bool nesterov = false;
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

class SGD final : public Optimizer {
 public:
  explicit SGD(const SGDOptions& options = {});
  std::string class_name() const override { return "SGD"; }
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(float* w, const float* g, int64_t size, float* const* slots) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double momentum_;
  bool nesterov_;
};

}  // namespace keel
