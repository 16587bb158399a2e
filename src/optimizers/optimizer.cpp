// Optimizer base: slot arena, clipping, weight decay, iterations, Keras config.
#include "keel/optimizers/optimizer.h"

#include <cassert>
#include <cmath>

#include "keel/core/error.h"
#include "keel/layers/layer.h"

namespace keel {

Optimizer::Optimizer(std::string default_name, double learning_rate,
                     const CommonOptimizerOptions& common)
    : name_(common.name.empty() ? std::move(default_name) : common.name),
      weight_decay_(common.weight_decay),
      clip_{common.clipnorm, common.global_clipnorm, common.clipvalue, common.agc,
            common.on_nonfinite} {
  set_learning_rate(learning_rate);
  validate_clip_options(clip_, name_);
  if (weight_decay_) check_range(*weight_decay_, 0.0, 1.0e9, "weight_decay", name_);
}

void Optimizer::check_range(double value, double lo, double hi, const char* field,
                            const std::string& where, bool hi_inclusive) {
  const bool ok = value >= lo && (hi_inclusive ? value <= hi : value < hi) && std::isfinite(value);
  KEEL_CHECK(ok, "optimizer '", where, "': ", field, " is ", value, "; expected a value in [", lo,
             ", ", hi, hi_inclusive ? "]" : ")");
}

void Optimizer::set_learning_rate(double learning_rate) {
  check_range(learning_rate, 0.0, 1.0e9, "learning_rate", name_);
  lr_f_ = static_cast<float>(learning_rate);
  learning_rate_ = lr_f_;
}

void Optimizer::set_iterations(int64_t iterations) {
  KEEL_CHECK(iterations >= 0, "optimizer '", name_, "': iterations is ", iterations,
             "; expected >= 0");
  iterations_ = iterations;
}

void Optimizer::build(std::span<const ParamRef> params) {
  if (built_) {
    bool same = params.size() == var_sizes_.size();
    for (size_t v = 0; same && v < params.size(); ++v) same = params[v].size == var_sizes_[v];
    KEEL_CHECK(same, "optimizer '", name_, "' was built for ", var_sizes_.size(),
               " variables and now sees ", params.size(),
               " (or different sizes); expected the same variable list every step (create a new "
               "optimizer for a different model)");
    return;
  }
  const std::vector<std::string> names = slot_names();
  num_slots_ = names.size();
  int64_t offset = 0;
  for (const ParamRef& p : params) {
    KEEL_CHECK(p.size >= 0 && (p.size == 0 || (p.value && p.grad)), "optimizer '", name_,
               "': variable '", p.name, "' has size ", p.size, " or null buffers");
    var_names_.push_back(without_output_index(p.name));
    var_sizes_.push_back(p.size);
    var_offsets_.push_back(offset);
    offset += p.size;
  }
  slot_stride_ = offset;
  if (num_slots_ > 0 && slot_stride_ > 0) {
    slot_arena_ = allocate_aligned_floats(slot_stride_ * static_cast<int64_t>(num_slots_));
    for (size_t k = 0; k < num_slots_; ++k) {
      const float init = slot_initial_value(k);
      float* s = slot_arena_.get() + static_cast<int64_t>(k) * slot_stride_;
      for (int64_t i = 0; i < slot_stride_; ++i) s[i] = init;
    }
  }
  clip_ws_.prepare(params);  // the one allocation of the clip scratch
  slot_ptrs_.assign(num_slots_, nullptr);
  built_ = true;
}

StepResult Optimizer::apply_gradients(std::span<const ParamRef> params) {
  build(params);
  StepResult result;
  result.clip = plan_clipping(params, clip_, clip_ws_);
  if (!result.clip.finite && clip_.on_nonfinite == NonFinitePolicy::kSkipStep) {
    ++skipped_steps_;
    result.skipped = true;
    return result;
  }
  prepare_step(iterations_ + 1);
  apply_update(params, clip_ws_.transforms);
  ++iterations_;
  return result;
}

void Optimizer::apply_update(std::span<const ParamRef> params, std::span<const GradTransform> clip) {
  apply_grad_transforms(clip_ws_.grads.data(), clip.data(), clip_ws_.chunks);
  if (has_weight_decay()) {
    // Keras _apply_weight_decay: variable.assign_sub(variable * wd * lr), before the update.
    const float wd = weight_decay_f();
    for (const ParamRef& p : params) {
      float* w = p.value;
      for (int64_t i = 0; i < p.size; ++i) w[i] -= w[i] * wd * lr_f_;
    }
  }
  for (size_t v = 0; v < params.size(); ++v) {
    for (size_t k = 0; k < num_slots_; ++k) slot_ptrs_[k] = slot(k, v);
    update_step(params[v].value, params[v].grad, params[v].size, slot_ptrs_.data());
  }
}

void Optimizer::update_step(float*, const float*, int64_t, float* const*) {
  assert(false && "an optimizer overrides apply_update or update_step");
}

std::vector<std::pair<std::string, std::span<float>>> Optimizer::slots() {
  std::vector<std::pair<std::string, std::span<float>>> out;
  if (!built_) return out;
  const std::vector<std::string> names = slot_names();
  for (size_t v = 0; v < var_names_.size(); ++v) {
    for (size_t k = 0; k < num_slots_; ++k) {
      out.emplace_back(var_names_[v] + "/" + names[k],
                       std::span<float>(slot(k, v), static_cast<size_t>(var_sizes_[v])));
    }
  }
  return out;
}

nlohmann::json Optimizer::get_config() const {
  auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json c;
  c["name"] = name_;
  c["weight_decay"] = optional(weight_decay_);
  c["clipnorm"] = optional(clip_.clipnorm);
  c["global_clipnorm"] = optional(clip_.global_clipnorm);
  c["clipvalue"] = optional(clip_.clipvalue);
  if (clip_.agc) c["agc"] = *clip_.agc;  // keel-specific: absent when unset (Keras has no such key)
  c["use_ema"] = false;
  c["ema_momentum"] = 0.99;
  c["ema_overwrite_frequency"] = nullptr;
  c["jit_compile"] = true;
  c["is_legacy_optimizer"] = false;
  c["learning_rate"] = learning_rate_;  // float32 value widened, as Keras serialises it
  add_config(c);
  return c;
}

}  // namespace keel
