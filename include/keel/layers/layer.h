// Layer: the base of every Keras-style layer, and the contract between layers and the model's plan.
//
// Contract (DESIGN.md "layers"):
//  * Shapes are full Keras shapes whose dims[0] is the unknown batch (Shape::batched).
//  * build(input_shapes) infers the output shapes and declares variables (variable_specs). The
//    model then allocates one parameter arena and one gradient arena and hands every layer named
//    views into them (bind_variables), in variable_specs order, and fills them with initializers.
//  * forward(ctx, x, y) sees one view per input and per output (contiguous, row-major, dims[0] the
//    batch). ctx.mode is never inferred: Mode::kTraining uses batch statistics / dropout and
//    caches what backward needs; Mode::kInference never changes state that outlives the call.
//  * backward(ctx, x, y, dy, dx, write) belongs to the latest kTraining forward with the same x, y.
//    It WRITES every dx[i] whose data is non-null (a null view: that input needs no gradient) and
//    sets (Write::kSet) or adds (Write::kAdd) the gradients of its trainable variables, as the plan
//    says: a layer called twice in a graph is set by its first backward and added to by the next.
//    With ctx.dy_wrt_logits the single dy is dL/d(logits) of a softmax output (outputs_softmax).
//  * No allocation in forward/backward once a batch of that size has been seen.
//  * Layers are called on symbolic tensors (functional API) through operator(); a layer object
//    called more than once is one layer: its weights are shared and its gradients add.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/core/shape.h"
#include "keel/core/tensor_ref.h"
#include "keel/layers/dtype_policy.h"
#include "keel/layers/initializers.h"

namespace keel {

enum class Mode { kTraining, kInference };
// How backward stores the gradients of the layer's own variables.
enum class Write : uint8_t { kSet, kAdd };

class Communicator;  // dist/: all-reduce across data-parallel ranks (synchronized BN)

// Data-parallel training: the batch a layer sees is rows [first, first + batch) of a global batch
// of `global` rows (0: the batch is the whole batch). Layers that draw random numbers per row
// (Dropout) use it to draw what one process would draw for the same rows.
struct BatchSlice {
  int64_t first = 0;
  int64_t global = 0;
};

// What a forward or backward call knows besides its tensors.
struct Pool2dGeometry;  // keel/kernels/pool.h

struct Context {
  Mode mode = Mode::kInference;
  const Communicator* comm = nullptr;  // nullptr: a single process
  bool dy_wrt_logits = false;          // backward: dy is w.r.t. the softmax's logits
  BatchSlice slice{};                  // forward: this rank's rows of the global batch
  // Forward and backward: an Activation('relu') after this layer was fused into it by the model's
  // plan (Layer::fuses_relu_after): forward writes relu(output), and backward's y and dy are that
  // ReLU's output and its gradient.
  bool relu_after = false;
  // Forward and backward, with relu_after: a MaxPooling2D reading only that ReLU's output was
  // fused too (Layer::fuses_max_pool_after), with this window geometry (batch 0). Forward writes
  // the pooled output (y has the pool's dims) and records the winners; backward's y and dy are the
  // pool's output and its gradient.
  const Pool2dGeometry* max_pool_after = nullptr;
};

// A variable as the user and the optimizer see it: a named view into the model's arenas.
struct Variable {
  std::string name;            // TF style: "batch_normalization/gamma:0"
  std::vector<int64_t> shape;  // (784,) for gamma, (784, 300) for a Dense kernel
  bool trainable = true;
  float* value = nullptr;      // in the parameter arena
  float* grad = nullptr;       // in the gradient arena; nullptr when not trainable
  int64_t size() const;
};

// "dense/kernel:0" -> "dense/kernel": a TF variable name without its output index, as TF.js
// weight manifests, checkpoints and optimizer slot names write it.
std::string without_output_index(std::string_view tf_name);

// Layer state that is not a variable but must survive a checkpoint for training to resume bit for
// bit (Dropout's generator; later an RNN's carried state). 64-bit words, so a generator's state is
// stored exactly; checkpoints name an entry "<key>/<layer name>".
struct LayerState {
  std::string key;              // "rng"
  std::vector<uint64_t> words;
};

// What a layer declares in build(); the model turns each spec into a Variable.
struct VariableSpec {
  std::string short_name;      // "kernel", "gamma", "moving_mean"
  std::vector<int64_t> shape;
  bool trainable = true;       // before the layer's own `trainable` flag is applied
  Initializer initializer;
  // When not empty: the variable is filled as consecutive 1-D pieces of these lengths, each by its
  // own initializer, instead of by `initializer` (LSTM's unit_forget_bias: zeros, ones, zeros).
  std::vector<std::pair<int64_t, Initializer>> pieces{};
};

// Fills a variable's values as its spec says (its initializer, or its pieces).
void initialize_variable(const VariableSpec& spec, std::span<float> values, Rng& rng);

class KerasTensor;

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  virtual ~Layer() = default;
  Layer(Layer&&) = default;
  Layer& operator=(Layer&&) = default;
  Layer(const Layer&) = default;
  Layer& operator=(const Layer&) = default;

  // Keras class name ("BatchNormalization").
  virtual std::string class_name() const = 0;
  // A copy of the layer's configuration and state (not bound to any arena once a model rebinds
  // it): graph transformations (BN folding) build new models from clones.
  virtual std::unique_ptr<Layer> clone() const = 0;

  // Keras's default name is taken lazily, when the layer is added to a model, called or built,
  // because C++ evaluates constructor arguments in an unspecified order: Sequential(Dense(1),
  // Dense(2)) must still name them dense, dense_1 as Keras does. Before that, name() is the bare
  // prefix ("dense").
  const std::string& name() const { return name_.empty() ? default_prefix_ : name_; }
  void ensure_name();

  // Keras `trainable`. For BatchNormalization, false also means inference mode inside fit.
  // Changing it after build updates the variables' trainable flags (summary, counts); as in Keras,
  // the optimizer sees the change at the next compile().
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);

  // Keras's dtype policy (dtype_policy.h): the global policy when the layer was constructed, or
  // what the config's "dtype" or set_dtype_policy said. Layers with matmuls or convolutions
  // compute them in bf16 under mixed_bfloat16; set it before the model is built.
  // Takes effect at the next forward. Under kNone (bf16.h) a bf16 policy prints the fallback
  // warning once per process, here or at build.
  const DTypePolicy& dtype_policy() const { return dtype_policy_; }
  void set_dtype_policy(const DTypePolicy& policy);
  // The policy computes in bf16 and bf16_kernels() has kernels for it: what a layer with
  // matmuls or convolutions asks before each product.
  bool runs_bf16_products() const;

  // The input_shape given at construction (Keras `input_shape=` / `batch_input_shape`), if any.
  const std::vector<int64_t>& declared_input_shape() const { return declared_input_shape_; }

  // Number of input tensors the layer takes; kVariadic: two or more (merge layers).
  static constexpr int kVariadic = -1;
  virtual int num_inputs() const { return 1; }

  void build(std::span<const Shape> input_shapes);
  void build(const Shape& input_shape) { build(std::span<const Shape>(&input_shape, 1)); }
  bool built() const { return built_; }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  // The first input / output shape (the only one of a one-in/one-out layer).
  const Shape& input_shape() const { return input_shapes_.front(); }
  const Shape& output_shape() const { return output_shapes_.front(); }

  virtual std::vector<Shape> compute_output_shapes(std::span<const Shape> input_shapes) const = 0;
  virtual std::vector<VariableSpec> variable_specs() const { return {}; }

  // Called by the model with one view per spec, in spec order, names already set.
  void bind_variables(std::vector<Variable> variables);
  std::vector<Variable>& variables() { return variables_; }
  const std::vector<Variable>& variables() const { return variables_; }
  // The bound variable "<layer name>/<short_name>:0" ("kernel"), or nullptr: none declared (a
  // Dense without bias) or not bound yet.
  const Variable* find_variable(std::string_view short_name) const;
  // Keras count_params(): elements of every variable, trainable or not.
  int64_t count_params() const;

  virtual void forward(const Context& ctx, std::span<const TensorRef> x,
                       std::span<const TensorRef> y) = 0;
  virtual void backward(const Context& ctx, std::span<const TensorRef> x,
                        std::span<const TensorRef> y, std::span<const TensorRef> dy,
                        std::span<const TensorRef> dx, Write write) = 0;

  // State beyond the variables (LayerState). load_state receives what save_state returned, read
  // back from a checkpoint: the same keys in the same order, each with as many words (the caller
  // checks that against save_state()).
  virtual std::vector<LayerState> save_state() const { return {}; }
  virtual void load_state(std::span<const LayerState> state) { (void)state; }

  // A pure reshape (Flatten): the output is the input's bytes unchanged and dx is dy. The plan
  // aliases the output to the input and calls neither forward nor backward (no copy per batch).
  virtual bool is_pure_reshape() const { return false; }

  // Whether the layer applies a following ReLU itself when Context::relu_after is set (in the same
  // pass as its own output, and masking dy in its backward). The plan then runs an
  // Activation('relu') that is the only reader of this layer's output inside it, and skips it.
  virtual bool fuses_relu_after() const { return false; }
  // Whether this layer is Activation('relu'), what the plan fuses into a layer above.
  virtual bool is_relu_activation() const { return false; }
  // Whether the layer, with a ReLU fused after it, can also run a following max pooling of
  // `window` (Context::max_pool_after): the plan then fuses a MaxPooling2D that is the only reader
  // of that ReLU's output, and the full-size ReLU output is never written.
  virtual bool fuses_max_pool_after(const Pool2dGeometry& window) const {
    (void)window;
    return false;
  }
  // A max pooling this layer is (MaxPooling2D) whose windows the fusion above can take (disjoint
  // windows with recorded winners), or nullptr.
  virtual const Pool2dGeometry* fusable_max_pool() const { return nullptr; }

  // Whether a training forward / backward makes collective calls on Context::comm (synchronized
  // BatchNormalization), so every data-parallel rank must run it with at least one row.
  virtual bool synchronizes_ranks() const { return false; }

  // Softmax outputs: Keras computes cross-entropy from the pre-softmax logits (no clipping). A
  // layer whose output is a softmax returns true here and exposes the logits of its latest forward
  // (either mode); its backward accepts dy w.r.t. those logits (Context::dy_wrt_logits).
  virtual bool outputs_softmax() const { return false; }
  virtual const float* logits() const { return nullptr; }

  // Keras get_config(): the "config" object of {"class_name": ..., "config": ...}; includes
  // name, trainable, dtype (the policy as Keras writes it) and, when declared, batch_input_shape.
  virtual nlohmann::json get_config() const = 0;

  // Functional API: apply the layer to symbolic tensors (keel::Input(...) or another layer's
  // output) and get its output. A temporary (Dense(10)(x)) is moved into the graph; an lvalue must
  // be owned by a std::shared_ptr (keel::shared(Dense(10))) so that every call is the same layer.
  KerasTensor operator()(const KerasTensor& x) &&;
  KerasTensor operator()(const std::vector<KerasTensor>& x) &&;
  KerasTensor operator()(const KerasTensor& x) &;
  KerasTensor operator()(const std::vector<KerasTensor>& x) &;

 protected:
  // `default_prefix` is Keras's snake_case class name ("batch_normalization"); an empty `name`
  // takes the next unique default name for that prefix (`dense`, `dense_1`, ...).
  Layer(std::string_view default_prefix, std::string name, std::vector<int64_t> input_shape);

  // Base part of get_config(): name, trainable, dtype, batch_input_shape when declared.
  nlohmann::json base_config() const;
  // Called at the end of build(); layers size their caches for the input here.
  virtual void on_build() {}
  // Called by ensure_name() every time, after the layer has its name: a wrapper (Bidirectional)
  // names the layer it wraps here, so default names are taken in the order Keras takes them.
  virtual void on_named() {}
  // Called at the end of bind_variables(): a wrapper hands its layers their share of the views.
  virtual void on_bind_variables() {}
  // A wrapper's copy of a layer takes a name of its own ("forward_lstm").
  void rename(std::string name) { name_ = std::move(name); }

 private:
  std::string name_;
  std::string default_prefix_;
  bool trainable_ = true;
  bool built_ = false;
  DTypePolicy dtype_policy_ = mixed_precision::global_policy();
  std::vector<int64_t> declared_input_shape_;  // without the batch dim
  std::vector<Shape> input_shapes_;
  std::vector<Shape> output_shapes_;
  std::vector<Variable> variables_;
};

// One input, one output, float32: what most layers are. They implement the single-shape and
// raw-pointer forms below and stay as plain as a layer without a graph around it.
class UnaryLayer : public Layer {
 public:
  virtual Shape compute_output_shape(const Shape& input_shape) const = 0;
  std::vector<Shape> compute_output_shapes(std::span<const Shape> input_shapes) const final;
  // Overridden only to read more of the Context than the mode (synchronized BatchNormalization).
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void backward(const Context& ctx, std::span<const TensorRef> x, std::span<const TensorRef> y,
                std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write write) override;

  // x: (batch, input_shape().sample_size()), y: (batch, output_shape().sample_size()).
  virtual void unary_forward(const float* x, float* y, int64_t batch, Mode mode) = 0;
  // dx may be null (no input gradient needed).
  virtual void unary_backward(const float* x, const float* y, const float* dy, float* dx,
                              int64_t batch, Write write) = 0;
  // Only for layers with outputs_softmax(): dlogits is dL/d(pre-softmax logits).
  virtual void unary_backward_from_logits(const float* x, const float* dlogits, float* dx,
                                          int64_t batch, Write write);

 protected:
  using Layer::Layer;
  // Context::relu_after of the forward / backward call in progress (the plan fused the
  // Activation('relu') after this layer into it: see Layer::fuses_relu_after).
  bool relu_after() const { return relu_after_; }
  void set_relu_after(bool relu_after) { relu_after_ = relu_after; }

 private:
  bool relu_after_ = false;
};

// std::shared_ptr owner for a layer that is called more than once (shared weights):
//   auto encoder = keel::shared(Dense(16));  auto a = (*encoder)(x1), b = (*encoder)(x2);
template <std::derived_from<Layer> L>
std::shared_ptr<L> shared(L layer) {
  auto owned = std::make_shared<L>(std::move(layer));
  owned->ensure_name();
  return owned;
}

// Keras backend.unique_object_name(prefix, zero_based=True): "dense", "dense_1", ... per prefix
// for the whole process. reset_default_names() is keras.backend.clear_session() for names.
std::string unique_layer_name(std::string_view prefix);
// Keras's one-based uids ("input_1", "input_2"; "model", "model_1" for models are zero-based).
std::string unique_one_based_name(std::string_view prefix);
void reset_default_names();

}  // namespace keel
