// Sequential: a stack of layers with one parameter arena and one gradient arena.
//
// All variables (trainable or not) live in one contiguous float arena, in layer order and, within a
// layer, in the layer's variable_specs order (Keras weight order: kernel, bias; gamma, beta,
// moving_mean, moving_variance). Gradients of trainable variables live in a second arena with the
// same per-variable order, so clipping, optimizer steps and saving are single loops.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "keel/core/shape.h"
#include "keel/core/tensor.h"
#include "keel/layers/layer.h"
#include "keel/model/training.h"

namespace keel {

class Loss;
class Metric;
class Optimizer;
struct TrainingState;

class Sequential {
 public:
  // keras.Sequential([...]): Sequential model{Flatten({.input_shape = {28, 28}}), Dense(10)};
  template <std::derived_from<Layer>... L>
  explicit Sequential(L... layers) : Sequential(Empty{}) {
    (add(std::move(layers)), ...);
  }
  // An empty model with a given name (keras.Sequential(name=...)); does not take a default name.
  explicit Sequential(std::string name);
  Sequential(Sequential&&) noexcept;
  Sequential& operator=(Sequential&&) noexcept;
  ~Sequential();

  template <std::derived_from<Layer> L>
  void add(L layer) {
    add(std::unique_ptr<Layer>(new L(std::move(layer))));
  }
  void add(std::unique_ptr<Layer> layer);

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  Layer& layer(int64_t i) { return *layers_.at(static_cast<size_t>(i)); }
  const Layer& layer(int64_t i) const { return *layers_.at(static_cast<size_t>(i)); }

  // Builds every layer from `input_shape` (full Keras shape, batch unknown) or, when absent, from the
  // first layer's declared input_shape; allocates the arenas and initialises every variable from a
  // generator seeded with `seed`. Throws keel::Error when no input shape is known.
  void build(std::optional<Shape> input_shape = std::nullopt, uint64_t seed = 42);
  bool built() const { return built_; }
  const Shape& input_shape() const;
  const Shape& output_shape() const;

  // Every variable in arena order; trainable ones also have a gradient view.
  std::vector<Variable*> variables();
  std::vector<const Variable*> variables() const;
  int64_t count_params() const;
  int64_t trainable_params() const;
  int64_t non_trainable_params() const;

  std::span<float> parameter_arena() { return {params_.get(), static_cast<size_t>(num_params_)}; }
  std::span<const float> parameter_arena() const {
    return {params_.get(), static_cast<size_t>(num_params_)};
  }
  std::span<float> gradient_arena() { return {grads_.get(), static_cast<size_t>(num_grads_)}; }

  // model.summary() text, byte for byte the tf.keras 2.7-2.12 layout (keras-semantics.md 4.1).
  std::string summary() const;

  // Low-level passes over a batch. forward returns the output buffer, valid until the next call;
  // backward takes dL/d(output) (or dL/d(logits) when from_logits) and adds into the gradients,
  // or with GradientUpdate::kOverwrite writes them (what fit does each step instead of
  // zero_gradients + add: same values, one pass less over the 1 MB gradient arena).
  enum class GradientUpdate { kAdd, kOverwrite };
  const float* forward(const float* x, int64_t batch, Mode mode);
  void backward(const float* x, const float* dy, int64_t batch, bool from_logits,
                GradientUpdate update = GradientUpdate::kAdd);
  // Logits of the last forward when the output layer is a softmax, else nullptr.
  const float* output_logits() const;
  bool outputs_softmax() const;
  void zero_gradients();

  // ---- Keras training API (src/model/fit.cpp, evaluate.cpp) ----
  // Builds the model if needed; the loss and metrics are resolved against the output shape.
  void compile(CompileOptions options);
  bool compiled() const;
  Optimizer& optimizer();
  History fit(const DataView& data, FitOptions options = {});
  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  // One optimizer step on one batch (Mode::kTraining); returns loss and metrics of that batch.
  Logs train_on_batch(const Tensor& x, const Tensor& y);
  // Loss and metrics over `data` in inference mode: never changes weights or BN statistics.
  Logs evaluate(const DataView& data, EvaluateOptions options = {});
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options = {});
  // Outputs for every sample in inference mode, batched; (n, output dims...).
  Tensor predict(const DataView& data, int64_t batch_size = 32);
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  // predict into a caller's buffer: x holds whole samples (input_shape().sample_size() floats
  // each), out exactly as many outputs (output_shape().sample_size() floats each). Same bits as
  // predict; allocates nothing once a batch of that size has been seen (embedding, serving).
  void predict_into(std::span<const float> x, std::span<float> out, int64_t batch_size = 32);
  // Keras model.stop_training: a callback sets it to end fit() after the current batch/epoch.
  bool stop_training = false;
  const StepStats& last_step() const;
  // Names of the compiled metrics as they appear in logs ("accuracy").
  std::vector<std::string> metric_names() const;

 private:
  // Delegation target of the variadic constructor: a fully constructed model, so a throwing add()
  // runs the out-of-line destructor (TrainingState is incomplete here).
  struct Empty {};
  explicit Sequential(Empty);
  void ensure_activation_buffers(int64_t batch);

  std::string name_;
  std::vector<std::unique_ptr<Layer>> layers_;
  bool built_ = false;
  int64_t num_params_ = 0, num_grads_ = 0;
  std::unique_ptr<float[], detail::AlignedFree> params_, grads_;
  // activations_[i] is the output of layer i; sized for activation_capacity_ samples.
  std::vector<std::unique_ptr<float[], detail::AlignedFree>> activations_, deltas_;
  // outputs_[i]: where layer i's output of the latest forward is: activations_[i], or the
  // layer's input when the layer is a pure reshape (Layer::output_is_input).
  std::vector<const float*> outputs_;
  int64_t activation_capacity_ = 0;
  std::unique_ptr<TrainingState> training_;
};

}  // namespace keel
