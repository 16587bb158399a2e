// SGD (keras/optimizers/sgd.py update_step); the loops are sgd_update in optimizer_kernels.cpp,
// which keep Keras's operand order (m = -g*lr + m*momentum is the same IEEE value as
// m*momentum - g*lr) and apply the clip transform as they read g.
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

void SGD::apply_update(std::span<const ParamRef> params, std::span<const GradTransform> clip) {
  SgdStep step;
  step.rule = nesterov_ ? SgdRule::kNesterov
                        : (momentum_ == 0.0 ? SgdRule::kPlain : SgdRule::kMomentum);
  step.lr = lr();
  step.momentum = static_cast<float>(momentum_);
  step.weight_decay = has_weight_decay();
  step.wd = weight_decay_f();
  vars_.resize(params.size());  // allocates on the first step only
  for (size_t v = 0; v < params.size(); ++v) {
    vars_[v] = {params[v].value, params[v].grad, step.rule == SgdRule::kPlain ? nullptr : slot(0, v),
                clip[v]};
  }
  sgd_update(vars_.data(), chunks(), step);
}

void SGD::add_config(nlohmann::json& c) const {
  c["momentum"] = momentum_;
  c["nesterov"] = nesterov_;
}

}  // namespace keel
