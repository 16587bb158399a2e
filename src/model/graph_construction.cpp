// Model's graph construction (model.h): a Sequential's chain, and a functional model's graph in
// Keras's order (functional._map_graph_network).
#include <algorithm>
#include <map>
#include <set>

#include "keel/core/error.h"
#include "keel/layers/input_layer.h"
#include "keel/model/model.h"

namespace keel {

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

namespace {

// What Keras's depth-first walk from the outputs (inputs of each node in order) finds: layers
// numbered by first visit, nodes in post-order, and each node's depth (the longest path to an
// output; a layer takes the largest depth of its nodes).
struct GraphWalk {
  std::vector<const Node*> post_order;
  std::map<const Node*, int> state;  // 1 in progress, 2 finished
  std::map<const Layer*, int64_t> first_visit;
  std::map<const Layer*, std::shared_ptr<Layer>> owners;
  std::map<const Node*, int64_t> node_depth;
  std::map<const Layer*, int64_t> layer_depth;
};

GraphWalk walk_from_outputs(const std::vector<KerasTensor>& outputs, const std::string& model) {
  GraphWalk walk;
  // Depth first with an explicit stack (node, next input to visit): the recursive walk overflowed
  // the call stack on a chain of 20,000 layers (SIGSEGV).
  struct Frame {
    const Node* node;
    size_t next_input;
  };
  std::vector<Frame> stack;
  auto enter = [&](const Node* node) {
    int& s = walk.state[node];
    KEEL_CHECK(s != 1, "model '", model, "': the graph has a cycle through layer '",
               node->layer->name(), "'");
    if (s == 2) return;
    s = 1;
    walk.first_visit.emplace(node->layer.get(), static_cast<int64_t>(walk.first_visit.size()));
    walk.owners.emplace(node->layer.get(), node->layer);
    stack.push_back({node, 0});
  };
  for (const KerasTensor& t : outputs) {
    KEEL_CHECK(t.defined(), "model '", model, "': an output is an empty tensor");
    enter(t.node().get());
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next_input < top.node->inputs.size()) {
        enter(top.node->inputs[top.next_input++].node().get());  // may reallocate `stack`
      } else {
        walk.state[top.node] = 2;
        walk.post_order.push_back(top.node);
        stack.pop_back();
      }
    }
  }
  // Reverse post-order visits every node before its inputs: depths flow down to them.
  for (auto it = walk.post_order.rbegin(); it != walk.post_order.rend(); ++it) {
    const Node* node = *it;
    const int64_t depth = std::max(walk.node_depth[node], walk.layer_depth[node->layer.get()]);
    walk.layer_depth[node->layer.get()] = depth;
    walk.node_depth[node] = depth;
    for (const KerasTensor& t : node->inputs) {
      int64_t& d = walk.node_depth[t.node().get()];
      d = std::max(d, depth + 1);
    }
  }
  return walk;
}

// Every declared input must be reached (an unused input is a Keras error too), and every input the
// graph reaches must be declared.
void check_inputs(const GraphWalk& walk, const std::vector<KerasTensor>& inputs,
                  const std::string& model) {
  for (const KerasTensor& t : inputs) {
    KEEL_CHECK(walk.state.count(t.node().get()) != 0, "model '", model, "': input '",
               t.layer().name(), "' is not connected to any output");
  }
  for (const Node* node : walk.post_order) {
    if (!node->inputs.empty()) continue;
    const bool declared = std::any_of(inputs.begin(), inputs.end(),
                                      [&](const KerasTensor& t) { return t.node().get() == node; });
    KEEL_CHECK(declared, "model '", model, "': the graph needs input '", node->layer->name(),
               "', which is not among the model's inputs");
  }
}

// Keras model.layers: decreasing depth, ties by first visit; names must be unique.
std::vector<std::shared_ptr<Layer>> keras_layer_order(const GraphWalk& walk,
                                                      const std::string& model) {
  std::vector<std::shared_ptr<Layer>> layers;
  for (const auto& [layer, owner] : walk.owners) layers.push_back(owner);
  std::stable_sort(layers.begin(), layers.end(), [&](const auto& a, const auto& b) {
    const int64_t da = walk.layer_depth.at(a.get()), db = walk.layer_depth.at(b.get());
    return da != db ? da > db : walk.first_visit.at(a.get()) < walk.first_visit.at(b.get());
  });
  std::set<std::string> names;
  for (const auto& layer : layers) {
    KEEL_CHECK(names.insert(layer->name()).second, "model '", model, "': duplicate layer name '",
               layer->name(), "'; layer names must be unique");
  }
  return layers;
}

// Keras node_index: which call of its layer, among the calls inside this model, a node is.
std::map<const Node*, int64_t> keras_node_indices(const GraphWalk& walk) {
  std::map<const Layer*, std::vector<const Node*>> calls;
  for (const Node* node : walk.post_order) calls[node->layer.get()].push_back(node);
  std::map<const Node*, int64_t> index;
  for (auto& [layer, nodes] : calls) {
    std::sort(nodes.begin(), nodes.end(),
              [](const Node* a, const Node* b) { return a->serial < b->serial; });
    for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = static_cast<int64_t>(i);
  }
  return index;
}

}  // namespace

// Nodes run in decreasing depth, ties in post-order (a topological order: a node's inputs are
// deeper); InputLayer nodes become the model-input tensors.
void Model::build_functional_graph() {
  const GraphWalk walk = walk_from_outputs(symbolic_outputs_, name_);
  check_inputs(walk, symbolic_inputs_, name_);
  layers_ = keras_layer_order(walk, name_);
  const std::map<const Node*, int64_t> node_index = keras_node_indices(walk);
  std::vector<const Node*> order(walk.post_order.begin(), walk.post_order.end());
  std::stable_sort(order.begin(), order.end(), [&](const Node* a, const Node* b) {
    return walk.node_depth.at(a) > walk.node_depth.at(b);
  });

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
    GraphNode g{node->layer.get(), {}, {}, node_index.at(node)};
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

}  // namespace keel
