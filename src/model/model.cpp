// Model: graph construction (Sequential chains and functional graphs), Keras layer order, arenas.
#include "keel/model/model.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <set>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/layers/input_layer.h"
#include "keel/model/sequential.h"
#include "plan.h"
#include "training_state.h"

namespace keel {

Model::Model(SequentialTag, std::string name)
    : name_(name.empty() ? unique_layer_name("sequential") : std::move(name)), sequential_(true) {}

Sequential::Sequential(std::string name) : Model(SequentialTag{}, std::move(name)) {
  KEEL_CHECK(!this->name().empty(), "a model name must not be empty");
}

Model::Model(const KerasTensor& input, const KerasTensor& output, std::string name)
    : Model(std::vector{input}, std::vector{output}, std::move(name)) {}

Model::Model(std::vector<KerasTensor> inputs, std::vector<KerasTensor> outputs, std::string name)
    : name_(name.empty() ? unique_layer_name("model") : std::move(name)),
      symbolic_inputs_(std::move(inputs)),
      symbolic_outputs_(std::move(outputs)) {
  KEEL_CHECK(!symbolic_inputs_.empty(), "model '", name_, "': no inputs given");
  KEEL_CHECK(!symbolic_outputs_.empty(), "model '", name_, "': no outputs given");
  for (const KerasTensor& t : symbolic_inputs_) {
    KEEL_CHECK(t.defined() && t.node()->inputs.empty() && t.layer().class_name() == "InputLayer",
               "model '", name_, "': every input must come from keel::Input(...), got ",
               t.defined() ? "the output of layer '" + t.layer().name() + "'" : "an empty tensor");
  }
  build_functional_graph();
  build();
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

void Model::append_layer(std::shared_ptr<Layer> layer) {
  layer->ensure_name();
  KEEL_CHECK(!built_, "model '", name_, "': cannot add layer '", layer->name(),
             "' after the model was built");
  KEEL_CHECK(appended_names_.insert(layer->name()).second, "model '", name_,
             "': duplicate layer name '", layer->name(), "'; layer names must be unique");
  layers_.push_back(std::move(layer));
}

Layer& Model::get_layer(std::string_view layer_name) {
  for (auto& layer : layers_)
    if (layer->name() == layer_name) return *layer;
  KEEL_FAIL("model '", name_, "' has no layer named '", layer_name, "'");
}

Model::ActiveCall::ActiveCall(Model& model, const char* call) : model_(model) {
  if (model_.active_calls_++ == 0) model_.active_call_ = call;
}

Model::ActiveCall::~ActiveCall() {
  if (--model_.active_calls_ == 0) model_.active_call_ = nullptr;
}

void Model::check_no_call_running(const char* what) const {
  KEEL_CHECK(active_calls_ == 0, "model '", name_, "': ", what, " called while its ", active_call_,
             " is running (from a callback?); it would free the buffers and variables ",
             active_call_, " is using. Call ", what, " after ", active_call_, " returns");
}

void Model::build(std::optional<Shape> input_shape, uint64_t seed) {
  check_no_call_running("build()");
  if (sequential_) {
    build_sequential_graph(std::move(input_shape));
  } else {
    KEEL_CHECK(!input_shape || *input_shape == tensors_[static_cast<size_t>(input_tensors_[0])].shape,
               "model '", name_, "': build(", input_shape->to_string(),
               ") does not match the input the functional model was made with, ",
               tensors_[static_cast<size_t>(input_tensors_[0])].shape.to_string());
  }
  allocate_variables(seed);
  plan_ = std::make_unique<Plan>(*this);
  plan_->comm = &communicator();
  built_ = true;
}

void Model::allocate_variables(uint64_t seed) {
  // Two passes: count, then allocate the arenas once and hand out views.
  // A config can claim any size: cap the arena before multiplying can overflow or allocating
  // can exhaust memory (issue 7). 2^32 floats = 16 GiB, far beyond a CPU-trained MLP.
  constexpr int64_t kMaxParams = int64_t{1} << 32;
  num_params_ = num_grads_ = 0;
  for (auto& layer : layers_) {
    for (const auto& spec : layer->variable_specs()) {
      int64_t size = 1;
      for (int64_t d : spec.shape) {
        KEEL_CHECK(d >= 1 && size <= (kMaxParams - num_params_) / d, "model '", name_, "': layer '",
                   layer->name(), "' variable '", spec.short_name, "' (dimension ", d,
                   ") would take the model past ", kMaxParams,
                   " parameters; expected a smaller layer (check units and input shape)");
        size *= d;
      }
      num_params_ += size;
      // Every spec-trainable variable gets a gradient view, so set_trainable() after build works.
      if (spec.trainable) num_grads_ += size;
    }
  }
  params_ = allocate_aligned_floats(num_params_);
  grads_ = allocate_aligned_floats(num_grads_);
  std::fill_n(grads_.get(), num_grads_, 0.0f);

  Rng rng(seed, /*stream=*/0);
  int64_t param_offset = 0, grad_offset = 0;
  for (auto& layer : layers_) {
    std::vector<Variable> views;
    for (const auto& spec : layer->variable_specs()) {
      Variable v;
      v.name = layer->name() + "/" + spec.short_name + ":0";
      v.shape = spec.shape;
      v.trainable = spec.trainable && layer->trainable();
      v.value = params_.get() + param_offset;
      param_offset += v.size();
      if (spec.trainable) {
        v.grad = grads_.get() + grad_offset;
        grad_offset += v.size();
      }
      initialize_variable(spec, {v.value, static_cast<size_t>(v.size())}, rng);
      views.push_back(std::move(v));
    }
    layer->bind_variables(std::move(views));
  }
  assert(param_offset == num_params_ && grad_offset == num_grads_);
}

const Shape& Model::input_shape() const {
  KEEL_CHECK(built_ || !sequential_, "model '", name_, "' is not built yet");
  return tensors_.at(static_cast<size_t>(input_tensors_.at(0))).shape;
}

const Shape& Model::output_shape() const {
  KEEL_CHECK(built_ || !sequential_, "model '", name_, "' is not built yet");
  return tensors_.at(static_cast<size_t>(output_tensors_.at(0))).shape;
}

std::vector<Variable*> Model::variables() {
  std::vector<Variable*> out;
  for (auto& layer : layers_)
    for (auto& v : layer->variables()) out.push_back(&v);
  return out;
}

std::vector<const Variable*> Model::variables() const {
  std::vector<const Variable*> out;
  for (const auto& layer : layers_)
    for (const auto& v : layer->variables()) out.push_back(&v);
  return out;
}

std::vector<ParamRef> Model::optimizer_params() {
  std::vector<const Layer*> classifiers;
  for (int64_t t : output_tensors_) {
    const int64_t producer = tensors_[static_cast<size_t>(t)].producer;
    if (producer >= 0) classifiers.push_back(nodes_[static_cast<size_t>(producer)].layer);
  }
  std::vector<ParamRef> params;
  for (auto& layer : layers_) {
    const bool classifier =
        std::find(classifiers.begin(), classifiers.end(), layer.get()) != classifiers.end();
    for (Variable& v : layer->variables()) {
      if (!v.trainable) continue;
      params.push_back({v.name, v.value, v.grad, v.size(), v.shape});
      params.back().exclude_from_agc = classifier && v.shape.size() >= 2;
    }
  }
  return params;
}

int64_t Model::count_params() const { return trainable_params() + non_trainable_params(); }

int64_t Model::trainable_params() const {
  int64_t n = 0;
  for (const Variable* v : variables()) n += v->trainable ? v->size() : 0;
  return n;
}

int64_t Model::non_trainable_params() const {
  int64_t n = 0;
  for (const Variable* v : variables()) n += v->trainable ? 0 : v->size();
  return n;
}

void Model::zero_gradients() { std::fill_n(grads_.get(), num_grads_, 0.0f); }

std::string Model::output_name(int64_t i) const {
  const GraphTensor& t = tensors_.at(size_t(output_tensors_.at(size_t(i))));
  if (t.producer < 0) return t.input_layer ? t.input_layer->name() : name_;
  return nodes_[size_t(t.producer)].layer->name();
}

std::string Model::output_names_text() const {
  std::string text;
  for (int64_t i = 0; i < num_outputs(); ++i) text += (i ? ", '" : "'") + output_name(i) + "'";
  return text;
}

void Model::check_single_io(const char* what) const {
  KEEL_CHECK(num_inputs() == 1 && num_outputs() == 1, "model '", name_, "': ", what,
             " supports models with one input and one output so far; this one has ",
             num_inputs(), " inputs and ", num_outputs(), " outputs");
}

void Model::set_communicator(const Communicator& comm) {
  comm_ = &comm;
  if (plan_) plan_->comm = comm_;
}

const Communicator& Model::communicator() const { return comm_ != nullptr ? *comm_ : world(); }

}  // namespace keel
