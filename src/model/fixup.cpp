#include "keel/model/fixup.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/layers/fixup_layers.h"
#include "keel/layers/input_layer.h"

namespace keel {

namespace {

bool is_weight_layer(const Layer& layer) {
  return std::any_of(layer.variables().begin(), layer.variables().end(),
                     [](const Variable& v) { return v.shape.size() >= 2; });
}

bool is_elementwise_activation(const Layer& layer) {
  return layer.class_name() == "Activation" && !layer.outputs_softmax();
}

bool is_normalization(const Layer& layer) {
  const std::string name = layer.class_name();
  constexpr std::string_view kSuffix = "Normalization";
  return name.size() >= kSuffix.size() && name.ends_with(kSuffix);
}

// One residual branch: Add(skip, end) where `nodes` (in execution order) compute end from skip.
struct Branch {
  int64_t skip = -1, end = -1;  // tensor ids
  std::vector<int64_t> nodes;   // node ids
  std::vector<int64_t> weight_nodes;
};

// The chain of one-in/one-out nodes from `skip` to `end`, or nothing when `end` is not computed
// from `skip` alone or an intermediate tensor (or `end`) also feeds another layer.
std::optional<Branch> trace_branch(const Model& model,
                                   const std::vector<std::vector<int64_t>>& consumers,
                                   int64_t skip, int64_t end) {
  Branch b{skip, end, {}, {}};
  for (int64_t t = end; t != skip;) {
    const int64_t p = model.tensors()[size_t(t)].producer;
    if (p < 0 || consumers[size_t(t)].size() != 1) return std::nullopt;
    const GraphNode& node = model.nodes()[size_t(p)];
    if (node.inputs.size() != 1 || node.outputs.size() != 1) return std::nullopt;
    b.nodes.push_back(p);
    t = node.inputs[0];
  }
  if (b.nodes.empty()) return std::nullopt;  // Add(x, x)
  std::reverse(b.nodes.begin(), b.nodes.end());
  for (int64_t n : b.nodes)
    if (is_weight_layer(*model.nodes()[size_t(n)].layer)) b.weight_nodes.push_back(n);
  return b;
}

std::vector<Branch> find_branches(const Model& model) {
  std::vector<std::vector<int64_t>> consumers(model.tensors().size());
  for (size_t n = 0; n < model.nodes().size(); ++n)
    for (int64_t t : model.nodes()[n].inputs) consumers[size_t(t)].push_back(int64_t(n));
  std::vector<Branch> branches;
  for (const GraphNode& node : model.nodes()) {
    if (node.layer->class_name() != "Add" || node.inputs.size() != 2) continue;
    const int64_t a = node.inputs[0], b = node.inputs[1];
    auto branch = trace_branch(model, consumers, a, b);
    if (!branch) branch = trace_branch(model, consumers, b, a);
    if (branch) branches.push_back(std::move(*branch));
  }
  return branches;
}

// The node of the last weight layer before the model's output, through single-input layers
// without weights (a separate softmax Activation).
std::optional<int64_t> find_classifier(const Model& model) {
  int64_t t = model.output_tensors().at(0);
  while (model.tensors()[size_t(t)].producer >= 0) {
    const int64_t p = model.tensors()[size_t(t)].producer;
    const GraphNode& node = model.nodes()[size_t(p)];
    if (is_weight_layer(*node.layer)) return p;
    if (node.inputs.size() != 1) return std::nullopt;
    t = node.inputs[0];
  }
  return std::nullopt;
}

void check_applicable(const Model& model, const std::vector<Branch>& branches) {
  const std::string& name = model.name();
  KEEL_CHECK(!branches.empty(), "fixup: model '", name, "' has no residual branch (an Add of a ",
             "tensor x and a chain of layers computed from x); Fixup applies to residual networks");
  for (const auto& layer : model.layers()) {
    KEEL_CHECK(layer->class_name() != "FixupBias" && layer->class_name() != "FixupScale",
               "fixup: model '", name, "' already has Fixup layers ('", layer->name(),
               "'); apply fixup() once, to a model without them");
  }
  for (const Branch& b : branches) {
    const Layer& last = *model.nodes()[size_t(b.nodes.back())].layer;
    KEEL_CHECK(!b.weight_nodes.empty(), "fixup: model '", name, "': the residual branch ending ",
               "at layer '", last.name(), "' has no weight layer (Dense); Fixup initialises the ",
               "weight layers of each branch");
    for (int64_t n : b.nodes) {
      const Layer& layer = *model.nodes()[size_t(n)].layer;
      KEEL_CHECK(!is_normalization(layer), "fixup: model '", name, "': layer '", layer.name(),
                 "' (", layer.class_name(), ") is inside a residual branch; Fixup replaces ",
                 "normalization, so apply it to the network without normalization layers");
    }
  }
}

// The same graph with Fixup's scalar layers inserted; the model's own layer objects are reused.
struct Rewritten {
  std::vector<KerasTensor> inputs, outputs;
};

Rewritten insert_scalar_layers(const Model& model, const std::vector<Branch>& branches,
                               int64_t classifier) {
  std::set<int64_t> bias_before{classifier};
  std::set<int64_t> branch_ends;  // tensor ids
  for (const Branch& b : branches) {
    branch_ends.insert(b.end);
    for (int64_t n : b.nodes) {
      const Layer& layer = *model.nodes()[size_t(n)].layer;
      if (is_weight_layer(layer) || is_elementwise_activation(layer)) bias_before.insert(n);
    }
  }
  std::map<const Layer*, std::shared_ptr<Layer>> owners;
  for (const auto& layer : model.layers()) owners.emplace(layer.get(), layer);

  Rewritten out;
  std::vector<KerasTensor> mapped(model.tensors().size());
  for (int64_t t : model.input_tensors()) {
    const GraphTensor& g = model.tensors()[size_t(t)];
    const std::vector<int64_t>& dims = g.shape.dims();
    InputOptions options;
    if (g.input_layer != nullptr) options.name = g.input_layer->name();
    mapped[size_t(t)] = Input({dims.begin() + 1, dims.end()}, options);
    out.inputs.push_back(mapped[size_t(t)]);
  }
  for (size_t n = 0; n < model.nodes().size(); ++n) {
    const GraphNode& node = model.nodes()[n];
    std::vector<KerasTensor> inputs;
    for (int64_t t : node.inputs) inputs.push_back(mapped[size_t(t)]);
    if (bias_before.count(int64_t(n)) != 0) inputs[0] = FixupBias()(inputs[0]);
    const KerasTensor y = call_layer(owners.at(node.layer), inputs);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const int64_t t = node.outputs[i];
      mapped[size_t(t)] = KerasTensor(y.node(), int64_t(i));
      if (branch_ends.count(t) != 0) mapped[size_t(t)] = FixupBias()(FixupScale()(mapped[size_t(t)]));
    }
  }
  for (int64_t t : model.output_tensors()) out.outputs.push_back(mapped[size_t(t)]);
  return out;
}

void fill(Variable& v, float value) { std::fill_n(v.value, v.size(), value); }

}  // namespace

int64_t fixup(Model& model, uint64_t seed) {
  KEEL_CHECK(!model.compiled(), "fixup: model '", model.name(), "' is compiled; apply fixup() ",
             "before compile() (it rebuilds the model)");
  const std::vector<Branch> branches = find_branches(model);
  check_applicable(model, branches);
  const std::optional<int64_t> classifier_node = find_classifier(model);
  KEEL_CHECK(classifier_node, "fixup: model '", model.name(), "' has no classifier (a Dense ",
             "layer producing the output); Fixup initialises it to zero");

  // The weight layers to initialise, by layer (the node ids change with the rewrite).
  const auto L = static_cast<int64_t>(branches.size());
  struct BranchLayers {
    std::vector<Layer*> scaled;
    Layer* last = nullptr;
  };
  std::vector<BranchLayers> layers;
  for (const Branch& b : branches) {
    BranchLayers bl;
    for (int64_t n : b.weight_nodes) bl.scaled.push_back(model.nodes()[size_t(n)].layer);
    bl.last = bl.scaled.back();
    bl.scaled.pop_back();
    layers.push_back(std::move(bl));
  }
  Layer* classifier = model.nodes()[size_t(*classifier_node)].layer;

  // Rebuild over the same layer objects, keeping every existing variable's value.
  std::map<Layer*, std::vector<std::vector<float>>> saved;
  for (const auto& layer : model.layers())
    for (const Variable& v : layer->variables()) saved[layer.get()].emplace_back(v.value, v.value + v.size());
  const Rewritten graph = insert_scalar_layers(model, branches, *classifier_node);
  Model rebuilt(graph.inputs, graph.outputs, model.name());
  for (const auto& [layer, values] : saved) {
    auto& vars = layer->variables();
    for (size_t i = 0; i < vars.size(); ++i) std::copy(values[i].begin(), values[i].end(), vars[i].value);
  }
  model = std::move(rebuilt);

  // Not stream 0: Model::build draws the model's own initial weights from (seed, 0), so Fixup's
  // draws would replay them and make every branch's first kernel a function of the stem's.
  Rng rng(seed, kFixupRngStream);
  const Initializer he_normal("he_normal");
  for (const BranchLayers& bl : layers) {
    const int64_t m = static_cast<int64_t>(bl.scaled.size()) + 1;
    for (Layer* layer : bl.scaled) {
      const double factor = std::pow(static_cast<double>(L), -1.0 / static_cast<double>(2 * m - 2));
      for (Variable& v : layer->variables()) {
        if (v.shape.size() < 2) continue;
        std::span<float> values(v.value, static_cast<size_t>(v.size()));
        he_normal.fill(values, v.shape, rng);
        for (float& x : values) x = static_cast<float>(x * factor);
      }
    }
    for (Variable& v : bl.last->variables()) fill(v, 0.0f);
  }
  for (Variable& v : classifier->variables()) fill(v, 0.0f);
  return L;
}

}  // namespace keel
