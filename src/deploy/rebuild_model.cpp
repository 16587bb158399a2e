// rebuild_model (rebuild_model.h): clones replayed through the functional API, so the result is an
// ordinary model whatever was left out.
#include "rebuild_model.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <string>

#include "keel/layers/input_layer.h"
#include "keel/model/sequential.h"

namespace keel {

namespace {

Model rebuild_sequential(const Model& model, const std::set<int64_t>& bypass,
                         const LayerCopier& copy) {
  Sequential out(model.name());
  const auto& nodes = model.nodes();
  for (size_t n = 0; n < nodes.size(); ++n)
    if (!bypass.count(static_cast<int64_t>(n))) out.add(copy(*nodes[n].layer));
  out.build(model.input_shape());
  return out;
}

Model rebuild_functional(const Model& model, const std::set<int64_t>& bypass,
                         const LayerCopier& copy) {
  const auto& tensors = model.tensors();
  std::vector<KerasTensor> symbolic(tensors.size()), inputs, outputs;
  for (int64_t t : model.input_tensors()) {
    const std::vector<int64_t>& dims = tensors[size_t(t)].shape.dims();
    inputs.push_back(Input(std::vector<int64_t>(dims.begin() + 1, dims.end()),
                           {.name = tensors[size_t(t)].input_layer->name()}));
    symbolic[size_t(t)] = inputs.back();
  }
  std::map<const Layer*, std::shared_ptr<Layer>> copies;  // one per layer: shared stays shared
  const auto& nodes = model.nodes();
  for (size_t n = 0; n < nodes.size(); ++n) {
    const GraphNode& node = nodes[n];
    if (bypass.count(static_cast<int64_t>(n))) {
      assert(node.inputs.size() == 1 && node.outputs.size() == 1);
      symbolic[size_t(node.outputs[0])] = symbolic[size_t(node.inputs[0])];
      continue;
    }
    std::shared_ptr<Layer>& layer = copies[node.layer];
    if (!layer) layer = copy(*node.layer);
    std::vector<KerasTensor> args;
    for (int64_t t : node.inputs) args.push_back(symbolic[size_t(t)]);
    const KerasTensor y = call_layer(layer, args);
    for (size_t k = 0; k < node.outputs.size(); ++k)
      symbolic[size_t(node.outputs[k])] = KerasTensor(y.node(), static_cast<int64_t>(k));
  }
  for (int64_t t : model.output_tensors()) outputs.push_back(symbolic[size_t(t)]);
  return Model(inputs, outputs, model.name());
}

void copy_variables(const Model& from, Model& to) {
  std::map<std::string, const Variable*> old;
  for (const Variable* v : from.variables()) old[v->name] = v;
  for (Variable* v : to.variables()) {
    const auto it = old.find(v->name);
    if (it == old.end() || it->second->size() != v->size()) continue;
    std::copy(it->second->value, it->second->value + v->size(), v->value);
  }
}

}  // namespace

Model rebuild_model(const Model& model, const std::set<int64_t>& bypass, const LayerCopier& copy) {
  Model out = model.is_sequential() ? rebuild_sequential(model, bypass, copy)
                                    : rebuild_functional(model, bypass, copy);
  copy_variables(model, out);
  return out;
}

}  // namespace keel
