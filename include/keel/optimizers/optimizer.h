// Optimizer: tf.keras >= 2.11 update rules over a flat list of (value, grad) buffers.
//
// apply_gradients(params) does, in Keras's order (keras/optimizers/optimizer.py):
//   1. build slots on the first call (the only allocation; later calls must pass the same
//      variables, same order and sizes);
//   2. plan_clipping (the pre-clip global norm is reported; non-finite policy; AGC when set,
//      scaling the gradients in place; then one Keras rule), which turns the rule into a
//      per-variable GradTransform and writes nothing more;
//   3. decoupled weight decay when set: w -= w * weight_decay * lr;
//   4. the optimizer's update step with the clip transform applied to each gradient element as
//      it is read (apply_update; SGD fuses 3 and 4 into one pass, so the gradient buffers keep
//      their pre-clip values; optimizers without fused loops write the clipped gradient first);
//   5. iterations += 1.
// With on_nonfinite = skip_step a non-finite gradient stops after 2: weights, slots and
// iterations are unchanged (Adam's bias correction then stays in step) and skipped_steps()
// counts it. Optimizers know no layer types (DESIGN.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/core/tensor.h"
#include "keel/optimizers/clipping.h"

namespace keel {

// Arguments every Keras optimizer takes. Each <Name>Options struct starts with its own
// hyperparameters and ends with these, so designated initialisers read like Keras:
// SGD({.learning_rate = 0.1, .momentum = 0.9, .clipnorm = 1.0}).
#define KEEL_OPTIMIZER_COMMON_OPTIONS                                  \
  std::optional<double> weight_decay{};     /* decoupled, w -= w*wd*lr */ \
  std::optional<double> clipnorm{};                                      \
  std::optional<double> global_clipnorm{};                               \
  std::optional<double> clipvalue{};                                     \
  std::optional<double> agc{}; /* keel: adaptive gradient clipping */    \
  NonFinitePolicy on_nonfinite = NonFinitePolicy::kError;              \
  std::string name{}; /* empty: the class name ("SGD") */

struct CommonOptimizerOptions {
  KEEL_OPTIMIZER_COMMON_OPTIONS
};

template <typename Options>
CommonOptimizerOptions common_options(const Options& o) {
  return {o.weight_decay, o.clipnorm, o.global_clipnorm, o.clipvalue, o.agc, o.on_nonfinite,
          o.name};
}

struct StepResult {
  ClipResult clip;
  bool skipped = false;  // non-finite gradient under on_nonfinite = skip_step
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Keras class name: "SGD", "Adam", "AdamW", "Nadam", "RMSprop", "Adagrad".
  virtual std::string class_name() const = 0;
  const std::string& name() const { return name_; }

  StepResult apply_gradients(std::span<const ParamRef> params);

  // Allocates the slots for these variables (zero, or Adagrad's initial accumulator value).
  // apply_gradients calls it on first use; call it yourself to restore slots before a step.
  // Throws keel::Error if already built for a different variable list.
  void build(std::span<const ParamRef> params);
  bool built() const { return built_; }

  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t iterations);  // checkpoint restore
  int64_t skipped_steps() const { return skipped_steps_; }

  // The learning rate used by the next step (schedulers, ReduceLROnPlateau). Like Keras, the
  // value is held as float32; learning_rate() returns that float32 value.
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);

  const ClipOptions& clip_options() const { return clip_; }
  std::optional<double> weight_decay() const { return weight_decay_; }

  // Every slot buffer, named "<variable>/<slot>" with Keras's slot names ("m", "v", "vhat",
  // "velocity", "momentum", "average_gradient", "accumulator"); ":0" is dropped from variable
  // names. Empty before build(). Iterations are separate (iterations()).
  std::vector<std::pair<std::string, std::span<float>>> slots();

  // The "config" dict of tf.keras >= 2.11 get_config(): name, weight_decay, clipnorm,
  // global_clipnorm, clipvalue, use_ema, ema_momentum, ema_overwrite_frequency, jit_compile,
  // is_legacy_optimizer, learning_rate (as float32), then the optimizer's own hyperparameters.
  // keel's "agc" only when set, so an optimizer without it gives exactly Keras's keys.
  nlohmann::json get_config() const;

 protected:
  Optimizer(std::string default_name, double learning_rate, const CommonOptimizerOptions& common);

  // Slot names per variable, e.g. {"m", "v"}; fixed after construction.
  virtual std::vector<std::string> slot_names() const = 0;
  virtual float slot_initial_value(size_t /*slot*/) const { return 0.0f; }
  // Called once per step before the per-variable updates; t = iterations() + 1.
  virtual void prepare_step(int64_t /*t*/) {}
  // Steps 3 and 4 for all variables: weight decay (when has_weight_decay()), then the update with
  // g' = clip[v](g) for every gradient element of params[v] (clip: (params.size())). Override it
  // with fused loops (optimizer_kernels.h; chunks() splits the work deterministically). The
  // default writes the clipped gradients back, decays, then calls update_step per variable.
  virtual void apply_update(std::span<const ParamRef> params, std::span<const GradTransform> clip);
  // One variable of the default apply_update: w, g (size, already clipped), slots[k] points at
  // that variable's buffer of slot k. An optimizer overrides this or apply_update.
  virtual void update_step(float* w, const float* g, int64_t size, float* const* slots);
  virtual void add_config(nlohmann::json& config) const = 0;

  float lr() const { return lr_f_; }
  bool has_weight_decay() const { return weight_decay_ && *weight_decay_ != 0.0; }
  float weight_decay_f() const { return static_cast<float>(weight_decay_.value_or(0.0)); }
  // Slot k of variable v (nullptr when the optimizer has no slots); valid after build().
  float* slot(size_t k, size_t v) const {
    return slot_arena_ ? slot_arena_.get() + static_cast<int64_t>(k) * slot_stride_ + var_offsets_[v]
                       : nullptr;
  }
  // The variables split into fixed chunks (split_into_chunks), valid inside apply_update.
  std::span<const ParamChunk> chunks() const { return clip_ws_.chunks; }
  // This step's gradient buffers, one per variable, valid inside apply_update.
  float* const* gradient_buffers() const { return clip_ws_.grads.data(); }
  // Keras stores hyperparameters as Python floats; the variables computing with them are float32.
  static void check_range(double value, double lo, double hi, const char* field,
                          const std::string& where, bool hi_inclusive = true);

 private:
  std::string name_;
  double learning_rate_ = 0.0;
  float lr_f_ = 0.0f;
  std::optional<double> weight_decay_{};
  ClipOptions clip_;
  int64_t iterations_ = 0;
  int64_t skipped_steps_ = 0;

  bool built_ = false;
  std::vector<std::string> var_names_;
  std::vector<int64_t> var_sizes_, var_offsets_;  // offsets into one slot of the arena
  int64_t slot_stride_ = 0;                       // elements per slot (sum of var sizes)
  size_t num_slots_ = 0;
  std::unique_ptr<float[], detail::AlignedFree> slot_arena_;
  ClipWorkspace clip_ws_;
  std::vector<float*> slot_ptrs_;  // per step, reused
};

// Keras names, case-insensitive: "sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad".
// `config` holds Keras get_config keys (learning_rate, momentum, beta_1, clipnorm, weight_decay,
// ...) plus keel's "on_nonfinite" ("error" | "skip_step" | "ignore") and "agc" (adaptive gradient
// clipping's lambda); null means unset. Keys Keras writes but keel does not implement are accepted
// at their defaults (use_ema false, jit_compile, is_legacy_optimizer false, ...); anything else
// throws keel::Error naming the key.
std::unique_ptr<Optimizer> make_optimizer(std::string_view name,
                                          const nlohmann::json& config = nlohmann::json::object());

}  // namespace keel
