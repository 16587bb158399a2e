// Layer: the base of every Keras-style layer.
//
// Contract (DESIGN.md "layers"):
//  * Shapes are full Keras shapes whose dims[0] is the unknown batch (Shape::batched).
//  * build(input_shape) infers the output shape and declares variables (variable_specs). The model
//    then allocates one parameter arena and one gradient arena and hands every layer named views
//    into them (bind_variables), in variable_specs order, and fills them with the initializers.
//  * forward(x, y, batch, mode) has no default mode. Mode::kTraining uses batch statistics / dropout
//    and caches what backward needs; Mode::kInference never changes any state that outlives the
//    call (BN moving statistics stay untouched).
//  * backward(x, y, dy, dx, batch) belongs to the latest kTraining forward with the same x, y.
//    It WRITES dx (when dx != nullptr) and ADDS (+=) into the gradient views of trainable
//    variables; the model zeroes the gradient arena once per step. (fit() instead asks layers to
//    overwrite their gradients, set_overwrite_gradients: the same values as zero-then-add without
//    a 1 MB memset and without the weight-gradient GEMM reading back zeros, every step.)
//  * No allocation in forward/backward once a batch of that size has been seen (buffers grow to the
//    largest batch and are reused).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/core/shape.h"
#include "keel/layers/initializers.h"

namespace keel {

enum class Mode { kTraining, kInference };

// A variable as the user and the optimizer see it: a named view into the model's arenas.
struct Variable {
  std::string name;            // TF style: "batch_normalization/gamma:0"
  std::vector<int64_t> shape;  // (784,) for gamma, (784, 300) for a Dense kernel
  bool trainable = true;
  float* value = nullptr;      // in the parameter arena
  float* grad = nullptr;       // in the gradient arena; nullptr when not trainable
  int64_t size() const;
};

// What a layer declares in build(); the model turns each spec into a Variable.
struct VariableSpec {
  std::string short_name;      // "kernel", "gamma", "moving_mean"
  std::vector<int64_t> shape;
  bool trainable = true;       // before the layer's own `trainable` flag is applied
  Initializer initializer;
};

class Layer {
 public:
  virtual ~Layer() = default;
  Layer(Layer&&) = default;
  Layer& operator=(Layer&&) = default;
  Layer(const Layer&) = default;
  Layer& operator=(const Layer&) = default;

  // Keras class name ("BatchNormalization").
  virtual std::string class_name() const = 0;
  // Keras's default name is taken lazily, when the layer is added to a model or built, because C++
  // evaluates constructor arguments in an unspecified order: Sequential(Dense(1), Dense(2)) must
  // still name them dense, dense_1 as Keras does. Before that, name() is the bare prefix ("dense").
  const std::string& name() const { return name_.empty() ? default_prefix_ : name_; }
  void ensure_name();

  // Keras `trainable`. For BatchNormalization, false also means inference mode inside fit.
  // Changing it after build updates the variables' trainable flags (summary, counts); as in Keras,
  // the optimizer sees the change at the next compile().
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);

  // The input_shape given at construction (Keras `input_shape=` / `batch_input_shape`), if any.
  const std::vector<int64_t>& declared_input_shape() const { return declared_input_shape_; }

  void build(const Shape& input_shape);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }

  virtual Shape compute_output_shape(const Shape& input_shape) const = 0;
  virtual std::vector<VariableSpec> variable_specs() const { return {}; }

  // Called by the model with one view per spec, in spec order, names already set.
  void bind_variables(std::vector<Variable> variables);
  std::vector<Variable>& variables() { return variables_; }
  const std::vector<Variable>& variables() const { return variables_; }
  // Keras count_params(): elements of every variable, trainable or not.
  int64_t count_params() const;

  // x: (batch, input_shape().sample_size()), y: (batch, output_shape().sample_size()).
  virtual void forward(const float* x, float* y, int64_t batch, Mode mode) = 0;
  virtual void backward(const float* x, const float* y, const float* dy, float* dx,
                        int64_t batch) = 0;

  // Softmax outputs: Keras computes cross-entropy from the pre-softmax logits (no clipping).
  // A layer whose output is a softmax returns true here, exposes the logits of its latest forward
  // (either mode) and can back-propagate a gradient given w.r.t. those logits.
  // A pure reshape (Flatten): the output is the input's bytes unchanged and dx is dy. The model
  // then passes the input buffer on instead of calling forward/backward (no copy per batch).
  virtual bool output_is_input() const { return false; }

  // When true, backward writes (=) the gradients of this layer's variables instead of adding.
  void set_overwrite_gradients(bool overwrite) { overwrite_gradients_ = overwrite; }
  bool overwrite_gradients() const { return overwrite_gradients_; }

  virtual bool outputs_softmax() const { return false; }
  virtual const float* logits() const { return nullptr; }
  virtual void backward_from_logits(const float* x, const float* dlogits, float* dx, int64_t batch);

  // Keras get_config(): the "config" object of {"class_name": ..., "config": ...}; includes
  // name, trainable, dtype ("float32") and, when declared, batch_input_shape.
  virtual nlohmann::json get_config() const = 0;

 protected:
  // `default_prefix` is Keras's snake_case class name ("batch_normalization"); an empty `name`
  // takes the next unique default name for that prefix (`dense`, `dense_1`, ...).
  Layer(std::string_view default_prefix, std::string name, std::vector<int64_t> input_shape);

  // Base part of get_config(): name, trainable, dtype, batch_input_shape when declared.
  nlohmann::json base_config() const;
  // Called at the end of build(); layers size their caches for the input here.
  virtual void on_build() {}

 private:
  std::string name_;
  std::string default_prefix_;
  bool trainable_ = true;
  bool built_ = false;
  bool overwrite_gradients_ = false;
  std::vector<int64_t> declared_input_shape_;  // without the batch dim
  Shape input_shape_;
  Shape output_shape_;
  std::vector<Variable> variables_;
};

// Keras backend.unique_object_name(prefix, zero_based=True): "dense", "dense_1", ... per prefix
// for the whole process. reset_default_names() is keras.backend.clear_session() for names.
std::string unique_layer_name(std::string_view prefix);
void reset_default_names();

}  // namespace keel
