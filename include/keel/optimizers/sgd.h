// keras.optimizers.SGD (tf.keras >= 2.11): velocity form, m starts at zero.
//   momentum == 0:  w -= lr * g                      (no slot allocated; same values as Keras)
//   momentum  > 0:  m = momentum * m - lr * g; w += m
//   nesterov:       m = momentum * m - lr * g; w += momentum * m - lr * g
#pragma once

#include <vector>

#include "keel/kernels/optimizer_kernels.h"
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
  // Clipping, weight decay and the update in one pass over all variables (sgd_update).
  void apply_update(std::span<const ParamRef> params, std::span<const GradTransform> clip) override;
  void add_config(nlohmann::json& config) const override;

 private:
  double momentum_;
  bool nesterov_;
  std::vector<SgdVar> vars_;  // per step, reused
};

}  // namespace keel
