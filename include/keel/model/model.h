// Model: a graph of layers (Keras keras.Model / Functional), built once into a plan.
//
//   keel::KerasTensor x = keel::Input({784});
//   auto h = keel::Dense(128)(x);
//   auto b = keel::Dense(128)(keel::Dense(128, {.activation = "elu"})(h));
//   keel::Model model(x, keel::Dense(10, {.activation = "softmax"})(keel::Add()({h, b})));
//
// Sequential (sequential.h) is the chain-shaped Model. Everything below works on both.
//
// Not yet as in Keras: a layer's variables live in the arena of the last model built over it, so
// two models sharing a layer (an encoder inside an autoencoder) do not share its weights: building
// the second re-initialises and rebinds them. fit / evaluate / predict take one input and one
// output; forward / backward take any number.
//
// Parameters: all variables (trainable or not) live in one contiguous float arena in Keras
// `model.weights` order (model.layers order, each layer's variable_specs order); gradients of
// trainable variables in a second arena with the same per-variable order, so clipping, optimizer
// steps and saving are single loops.
//
// The plan (built with the arenas): nodes run in a topological order (Keras's decreasing depth);
// every tensor has its own forward buffer except model inputs (the caller's data) and the outputs
// of pure reshapes (aliases of their input); gradient buffers are assigned by liveness (a chain
// ping-pongs between two); a tensor that feeds several layers gets the sum of their input
// gradients; a layer called n times has its parameter gradients set by the first backward and
// added to by the others; layers whose inputs need no gradient and that have nothing to train are
// not run backward, and their input gradients are never computed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "keel/core/shape.h"
#include "keel/core/tensor.h"
#include "keel/dist/communicator.h"
#include "keel/layers/keras_tensor.h"
#include "keel/layers/layer.h"
#include "keel/model/training.h"
#include "keel/optimizers/clipping.h"

namespace keel {

class Loss;
class Metric;
class Optimizer;
struct TrainingState;
struct TrainingData;

// One call of a layer inside a model.
struct GraphNode {
  Layer* layer = nullptr;
  std::vector<int64_t> inputs;   // tensor ids
  std::vector<int64_t> outputs;  // tensor ids
  int64_t node_index = 0;        // Keras node_index: which call of `layer` this is (0, 1, ...)
};

// One tensor of a model: a model input or a node's output.
struct GraphTensor {
  Shape shape;
  int64_t producer = -1;        // node id; -1 for a model input
  int64_t output_index = 0;     // which output of the producer
  Layer* input_layer = nullptr; // the InputLayer of a functional model's input (else nullptr)
};

class Model {
 public:
  // keras.Model(inputs, outputs, name): the graph between them. Builds the model (allocates and
  // initialises the variables with `seed` 42; call build(seed) to re-initialise).
  Model(std::vector<KerasTensor> inputs, std::vector<KerasTensor> outputs, std::string name = {});
  Model(const KerasTensor& input, const KerasTensor& output, std::string name = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  virtual ~Model();

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // "Sequential" or "Functional" (Keras's class names, as in configs).
  const char* class_name() const { return sequential_ ? "Sequential" : "Functional"; }
  bool is_sequential() const { return sequential_; }

  // Keras model.layers: a Sequential's layers in order; a functional model's layers (InputLayers
  // included) by decreasing depth, ties in the order a depth-first walk from the outputs meets them.
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  Layer& layer(int64_t i) { return *layers_.at(static_cast<size_t>(i)); }
  const Layer& layer(int64_t i) const { return *layers_.at(static_cast<size_t>(i)); }
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  // Keras model.get_layer(name); throws naming the model when absent.
  Layer& get_layer(std::string_view layer_name);

  // The graph, valid once built: nodes in execution order (no InputLayer nodes), tensors by id.
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  const std::vector<GraphTensor>& tensors() const { return tensors_; }
  const std::vector<int64_t>& input_tensors() const { return input_tensors_; }
  const std::vector<int64_t>& output_tensors() const { return output_tensors_; }
  int64_t num_inputs() const { return static_cast<int64_t>(input_tensors_.size()); }
  int64_t num_outputs() const { return static_cast<int64_t>(output_tensors_.size()); }

  // Builds the graph (a Sequential: from `input_shape`, or the first layer's declared input_shape),
  // allocates the arenas and initialises every variable from a generator seeded with `seed`.
  // Throws keel::Error when no input shape is known.
  void build(std::optional<Shape> input_shape = std::nullopt, uint64_t seed = 42);
  bool built() const { return built_; }
  // The first input's / output's shape (the only one of a one-in/one-out model).
  const Shape& input_shape() const;
  const Shape& output_shape() const;

  // Every variable in arena order; trainable ones also have a gradient view.
  std::vector<Variable*> variables();
  std::vector<const Variable*> variables() const;
  int64_t count_params() const;
  // The trainable variables as the optimizer sees them, arena order. The weight matrices of the
  // layers that produce the model's outputs (the final classifier) are flagged exclude_from_agc:
  // NFNets do not clip the final linear layer (Brock et al. 2021; its bias keeps AGC).
  std::vector<ParamRef> optimizer_params();
  int64_t trainable_params() const;
  int64_t non_trainable_params() const;

  std::span<float> parameter_arena() { return {params_.get(), static_cast<size_t>(num_params_)}; }
  std::span<const float> parameter_arena() const {
    return {params_.get(), static_cast<size_t>(num_params_)};
  }
  std::span<float> gradient_arena() { return {grads_.get(), static_cast<size_t>(num_grads_)}; }

  // model.summary() text, byte for byte the tf.keras 2.7-2.12 layout (keras-semantics.md 4.1,
  // keras-semantics-r2.md 4.3 for functional models).
  std::string summary() const;

  // Low-level passes over a batch. forward takes one pointer per model input, (batch, input
  // sample size) floats each, and returns the first output's buffer; every output stays readable
  // through output(i) until the next call. backward takes dL/d(output) per output (or dL/d(logits)
  // where from_logits is set for an output whose outputs_softmax() holds) and adds into the
  // gradients, or with GradientUpdate::kOverwrite writes them (what fit does each step instead of
  // zero_gradients + add: same values, one pass less over the gradient arena).
  enum class GradientUpdate { kAdd, kOverwrite };
  // `slice`: in data-parallel training, which rows of the global batch these are (fit sets it).
  const float* forward(const float* x, int64_t batch, Mode mode);
  void forward(std::span<const float* const> xs, int64_t batch, Mode mode, BatchSlice slice = {});
  const float* output(int64_t i) const;
  // One-output form; `x` is not read (the plan keeps the latest forward's inputs) and stays so
  // callers written for Sequential read the same.
  void backward(const float* x, const float* dy, int64_t batch, bool from_logits,
                GradientUpdate update = GradientUpdate::kAdd);
  void backward(std::span<const float* const> dys, std::span<const bool> from_logits,
                int64_t batch, GradientUpdate update = GradientUpdate::kAdd);
  // Logits of the last forward when output `i` is a softmax the loss may read through, else null.
  const float* output_logits(int64_t i = 0) const;
  bool outputs_softmax(int64_t i = 0) const;
  void zero_gradients();

  // ---- Keras training API (src/model/fit.cpp, evaluate.cpp) ----
  // The Tensor-span forms take one array per model input (xs) and per output (ys), in the order
  // of the Model's inputs / outputs (Keras's list form); the DataView / single-Tensor forms need a
  // model with one input and one output.
  // Builds the model if needed; the loss and metrics are resolved against the output shape.
  void compile(CompileOptions options);
  bool compiled() const;
  Optimizer& optimizer();
  History fit(const DataView& data, FitOptions options = {});
  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  // validation_split works here; validation_data (a one-input view) does not.
  History fit(std::span<const Tensor> xs, std::span<const Tensor> ys, FitOptions options = {});
  // One optimizer step on one batch (Mode::kTraining); returns loss and metrics of that batch.
  Logs train_on_batch(const Tensor& x, const Tensor& y);
  Logs train_on_batch(std::span<const Tensor> xs, std::span<const Tensor> ys);
  // Loss and metrics over `data` in inference mode: never changes weights or BN statistics.
  Logs evaluate(const DataView& data, EvaluateOptions options = {});
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options = {});
  Logs evaluate(std::span<const Tensor> xs, std::span<const Tensor> ys, EvaluateOptions options = {});
  // Outputs for every sample in inference mode, batched; (n, output dims...).
  Tensor predict(const DataView& data, int64_t batch_size = 32);
  // The same, with Keras's progress bar when options.verbose > 0 (Keras's predict default).
  Tensor predict(const DataView& data, const PredictOptions& options);
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  // Every output, (n, output dims...) each, for one array per input.
  std::vector<Tensor> predict(std::span<const Tensor> xs, int64_t batch_size = 32);
  // predict into a caller's buffer: x holds whole samples (input_shape().sample_size() floats
  // each), out exactly as many outputs (output_shape().sample_size() floats each). Same bits as
  // predict; allocates nothing once a batch of that size has been seen (embedding, serving).
  void predict_into(std::span<const float> x, std::span<float> out, int64_t batch_size = 32);
  // Keras model.stop_training: a callback sets it to end fit() after the current batch/epoch.
  bool stop_training = false;
  const StepStats& last_step() const;
  // Names of the compiled metrics as given to compile() ("accuracy"; logs of a model with several
  // outputs prefix them with the output's name).
  std::vector<std::string> metric_names() const;
  // Keras model.output_names: the name of the layer producing each output.
  std::string output_name(int64_t i) const;
  // The Activation('relu') layers this model runs inside the layer before them, in graph order:
  // each is the only reader of the output of a BatchNormalization or of a linear Dense / Conv2D /
  // DepthwiseConv2D (Layer::fuses_relu_after), which then writes relu(y) in its own last pass and
  // masks dy in its backward. Same results, one pass over the tensor fewer each way. Empty before
  // build().
  std::vector<std::string> fused_activations() const;
  // The MaxPooling2D layers this model runs inside the BatchNormalization two layers before them,
  // in graph order: each pools (disjoint windows) a fused ReLU's output that nothing else reads,
  // after a BN over <= 64 channels on the last axis (Layer::fuses_max_pool_after). The BN writes
  // the pooled output directly; the full-size activations are never written. Same results.
  std::vector<std::string> fused_poolings() const;

  // The ranks fit() and evaluate() run data-parallel over (docs/distributed.md): each takes its
  // rows of every global batch, gradients and metrics are summed over the ranks, and only rank 0
  // prints. Default: world(), i.e. every rank of an mpirun / srun job, or one local process.
  // `comm` must outlive the model's use of it.
  void set_communicator(const Communicator& comm);
  const Communicator& communicator() const;

 protected:
  // An empty Sequential model (layers come from Sequential::add).
  struct SequentialTag {};
  Model(SequentialTag, std::string name);
  void append_layer(std::shared_ptr<Layer> layer);

 private:
  struct Plan;
  void check_single_io(const char* what) const;
  std::string output_names_text() const;  // "'cls', 'reg'"
  History fit_data(const TrainingData& data, std::optional<TrainingData> validation,
                   FitOptions options);
  Logs evaluate_data(const TrainingData& data, const EvaluateOptions& options);
  void build_sequential_graph(std::optional<Shape> input_shape);
  void build_functional_graph();
  void allocate_variables(uint64_t seed);

  std::string name_;
  bool sequential_ = false;
  std::vector<std::shared_ptr<Layer>> layers_;
  // The names of the layers append_layer() added (a Sequential's): its duplicate check, in
  // constant time (a scan made loading a 40,000-layer config take seconds).
  std::unordered_set<std::string> appended_names_;
  // A functional model's symbolic inputs and outputs (empty for a Sequential).
  std::vector<KerasTensor> symbolic_inputs_, symbolic_outputs_;
  std::vector<GraphNode> nodes_;
  std::vector<GraphTensor> tensors_;
  std::vector<int64_t> input_tensors_, output_tensors_;
  bool built_ = false;
  int64_t num_params_ = 0, num_grads_ = 0;
  std::unique_ptr<float[], detail::AlignedFree> params_, grads_;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<TrainingState> training_;
  const Communicator* comm_ = nullptr;  // nullptr: world()

  // fit / evaluate / predict in progress, outermost first: a callback may predict or evaluate
  // inside fit, but compile() and build() would free the buffers and variables the running call
  // steps through, so they refuse while one runs (check_no_call_running).
  class ActiveCall {  // marks a call as running for its lifetime (nests)
   public:
    ActiveCall(Model& model, const char* call);
    ~ActiveCall();
    ActiveCall(const ActiveCall&) = delete;
    ActiveCall& operator=(const ActiveCall&) = delete;

   private:
    Model& model_;
  };
  int active_calls_ = 0;
  const char* active_call_ = nullptr;
  void check_no_call_running(const char* what) const;
};

}  // namespace keel
