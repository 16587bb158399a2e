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

void Model::append_layer(std::unique_ptr<Layer> layer) {
  layer->ensure_name();
  KEEL_CHECK(!built_, "model '", name_, "': cannot add layer '", layer->name(),
             "' after the model was built");
  for (const auto& existing : layers_) {
    KEEL_CHECK(existing->name() != layer->name(), "model '", name_,
               "': duplicate layer name '", layer->name(), "'; layer names must be unique");
  }
  layers_.push_back(std::move(layer));
}

Layer& Model::get_layer(std::string_view layer_name) {
  for (auto& layer : layers_)
    if (layer->name() == layer_name) return *layer;
  KEEL_FAIL("model '", name_, "' has no layer named '", layer_name, "'");
}

void Model::build_sequential_graph(std::optional<Shape> input_shape) {
  KEEL_CHECK(!layers_.empty(), "model '", name_, "' has no layers; add layers before building");
  if (!input_shape) {
    const auto& declared = layers_.front()->declared_input_shape();
    KEEL_CHECK(!declared.empty(), "model '", name_, "': the first layer '",
               layers_.front()->name(),
               "' declares no input_shape; pass input_shape to the first layer or to build()");
    input_shape = Shape::batched(declared);
  }
  check_input_sample_size(*input_shape, "model '" + name_ + "'");
  nodes_.clear();
  tensors_.assign(1, GraphTensor{*input_shape, -1, 0, nullptr});
  input_tensors_ = {0};
  for (auto& layer : layers_) {
    KEEL_CHECK(layer->num_inputs() == 1, "model '", name_, "': layer '", layer->name(), "' (",
               layer->class_name(), ") takes several inputs and cannot be part of a Sequential "
               "model; use the functional API (keel::Model(inputs, outputs))");
    const int64_t in = static_cast<int64_t>(tensors_.size()) - 1;
    layer->build(tensors_.back().shape);
    KEEL_CHECK(layer->output_shapes().size() == 1, "model '", name_, "': layer '", layer->name(),
               "' has several outputs and cannot be part of a Sequential model");
    const auto node = static_cast<int64_t>(nodes_.size());
    tensors_.push_back(GraphTensor{layer->output_shape(), node, 0, nullptr});
    nodes_.push_back(GraphNode{layer.get(), {in}, {in + 1}, 0});
  }
  output_tensors_ = {static_cast<int64_t>(tensors_.size()) - 1};
}

// Keras functional._map_graph_network: a depth-first walk from the outputs (inputs of each node in
// order) numbers layers by first visit and lists nodes in post-order; a node's depth is the longest
// path to an output (a layer takes the largest depth of its nodes); layers sort by decreasing
// depth, ties by first visit. Nodes run in decreasing depth, ties in post-order (a topological
// order: a node's inputs are deeper).
void Model::build_functional_graph() {
  std::vector<const Node*> post_order;
  std::map<const Node*, int> state;  // 1 in progress, 2 finished
  std::map<const Layer*, int64_t> first_visit;
  std::map<const Layer*, std::shared_ptr<Layer>> owners;
  auto visit = [&](auto&& self, const Node* node) -> void {
    int& s = state[node];
    KEEL_CHECK(s != 1, "model '", name_, "': the graph has a cycle through layer '",
               node->layer->name(), "'");
    if (s == 2) return;
    s = 1;
    first_visit.emplace(node->layer.get(), static_cast<int64_t>(first_visit.size()));
    owners.emplace(node->layer.get(), node->layer);
    for (const KerasTensor& t : node->inputs) self(self, t.node().get());
    state[node] = 2;
    post_order.push_back(node);
  };
  for (const KerasTensor& t : symbolic_outputs_) {
    KEEL_CHECK(t.defined(), "model '", name_, "': an output is an empty tensor");
    visit(visit, t.node().get());
  }

  std::map<const Node*, int64_t> node_depth;
  std::map<const Layer*, int64_t> layer_depth;
  for (auto it = post_order.rbegin(); it != post_order.rend(); ++it) {
    const Node* node = *it;
    int64_t depth = std::max(node_depth[node], layer_depth[node->layer.get()]);
    layer_depth[node->layer.get()] = depth;
    node_depth[node] = depth;
    for (const KerasTensor& t : node->inputs) {
      int64_t& d = node_depth[t.node().get()];
      d = std::max(d, depth + 1);
    }
  }
  // Every declared input must be reached; an unused input is a Keras error too.
  for (const KerasTensor& t : symbolic_inputs_) {
    KEEL_CHECK(state.count(t.node().get()) != 0, "model '", name_, "': input '", t.layer().name(),
               "' is not connected to any output");
  }
  for (const Node* node : post_order) {
    if (!node->inputs.empty()) continue;
    const bool declared = std::any_of(symbolic_inputs_.begin(), symbolic_inputs_.end(),
                                      [&](const KerasTensor& t) { return t.node().get() == node; });
    KEEL_CHECK(declared, "model '", name_, "': the graph needs input '", node->layer->name(),
               "', which is not among the model's inputs");
  }

  layers_.clear();
  for (const auto& [layer, owner] : owners) layers_.push_back(owner);
  std::stable_sort(layers_.begin(), layers_.end(), [&](const auto& a, const auto& b) {
    const int64_t da = layer_depth[a.get()], db = layer_depth[b.get()];
    return da != db ? da > db : first_visit[a.get()] < first_visit[b.get()];
  });
  std::set<std::string> names;
  for (const auto& layer : layers_) {
    KEEL_CHECK(names.insert(layer->name()).second, "model '", name_, "': duplicate layer name '",
               layer->name(), "'; layer names must be unique");
  }

  // Execution order; InputLayer nodes become the model-input tensors.
  std::vector<const Node*> order(post_order.begin(), post_order.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](const Node* a, const Node* b) { return node_depth[a] > node_depth[b]; });
  // Keras node_index: the calls of a layer inside this model, in call order.
  std::map<const Layer*, std::vector<uint64_t>> calls;
  for (const Node* node : post_order) calls[node->layer.get()].push_back(node->serial);
  for (auto& [layer, serials] : calls) std::sort(serials.begin(), serials.end());
  auto node_index_of = [&](const Node* node) {
    const auto& serials = calls[node->layer.get()];
    return static_cast<int64_t>(std::find(serials.begin(), serials.end(), node->serial) -
                                serials.begin());
  };

  nodes_.clear();
  tensors_.clear();
  std::map<std::pair<const Node*, int64_t>, int64_t> tensor_id;
  for (const KerasTensor& t : symbolic_inputs_) {
    const auto key = std::make_pair(t.node().get(), t.index());
    if (tensor_id.count(key) != 0) continue;
    tensor_id[key] = static_cast<int64_t>(tensors_.size());
    tensors_.push_back(GraphTensor{t.shape(), -1, 0, &t.layer()});
  }
  input_tensors_.clear();
  for (const KerasTensor& t : symbolic_inputs_)
    input_tensors_.push_back(tensor_id.at({t.node().get(), t.index()}));
  for (const Node* node : order) {
    if (node->inputs.empty()) continue;
    GraphNode g{node->layer.get(), {}, {}, node_index_of(node)};
    for (const KerasTensor& t : node->inputs) g.inputs.push_back(tensor_id.at({t.node().get(), t.index()}));
    const auto id = static_cast<int64_t>(nodes_.size());
    for (size_t i = 0; i < node->output_shapes.size(); ++i) {
      tensor_id[{node, static_cast<int64_t>(i)}] = static_cast<int64_t>(tensors_.size());
      g.outputs.push_back(static_cast<int64_t>(tensors_.size()));
      tensors_.push_back(GraphTensor{node->output_shapes[i], id, static_cast<int64_t>(i), nullptr});
    }
    nodes_.push_back(std::move(g));
  }
  output_tensors_.clear();
  for (const KerasTensor& t : symbolic_outputs_)
    output_tensors_.push_back(tensor_id.at({t.node().get(), t.index()}));
}

void Model::build(std::optional<Shape> input_shape, uint64_t seed) {
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
      spec.initializer.fill({v.value, static_cast<size_t>(v.size())}, v.shape, rng);
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

}  // namespace keel
