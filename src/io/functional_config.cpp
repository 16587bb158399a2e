// Functional model configs (tf.keras 2.x to_json() "Functional", the tf.keras < 2.4 / TF.js
// "Model", and Keras 3's node format), read and written (model_config.h).
//
// Reading follows Keras's functional_from_config: every layer is created first, then the layers'
// calls (inbound_nodes) are replayed on symbolic tensors; a call whose inputs do not exist yet (a
// shared layer's second call reading a layer listed after it) waits for a later pass.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/layers/input_layer.h"
#include "keel/layers/keras_tensor.h"
#include "model_config_parts.h"

namespace keel::model_config_detail {

namespace {

// One layer entry of the file and the calls replayed so far.
struct LayerEntry {
  std::string where;  // "<source>: layer 3 ('dense_1', Dense)"
  std::shared_ptr<Layer> layer;
  const json* inbound_nodes = nullptr;
  std::vector<KerasTensor> calls;  // the output of each replayed call, by node_index
};

// A reference to one output of one call of a layer: [name, node_index, tensor_index].
struct TensorRefSpec {
  std::string layer;
  int64_t node_index = 0, tensor_index = 0;
  std::string text() const {
    return "['" + layer + "', " + std::to_string(node_index) + ", " + std::to_string(tensor_index) + "]";
  }
};

TensorRefSpec parse_reference(const json& ref, const std::string& where) {
  KEEL_CHECK(ref.is_array() && ref.size() >= 3 && ref.size() <= 4 && ref[0].is_string() &&
                 ref[1].is_number_integer() && ref[2].is_number_integer(),
             where, ": expected a tensor reference [layer_name, node_index, tensor_index], got ",
             ref.dump());
  return {ref[0].get<std::string>(), ref[1].get<int64_t>(), ref[2].get<int64_t>()};
}

// Call arguments other than the tensors: keel has none to honour (Keras writes {} unless a call
// passed e.g. training=True, which would change what the layer computes).
void check_call_kwargs(const json& kwargs, const std::string& where) {
  KEEL_CHECK(kwargs.is_object(), where, ": call arguments must be an object, got ", kwargs.dump());
  for (const auto& [key, value] : kwargs.items()) {
    KEEL_CHECK(value.is_null(), where, ": call argument '", key, "' = ", value.dump(),
               " is not supported (keel layers take no call arguments)");
  }
}

// Keras 3 writes a tensor as {"class_name": "__keras_tensor__", "config": {"keras_history": ...}}.
TensorRefSpec parse_keras3_tensor(const json& tensor, const std::string& where) {
  KEEL_CHECK(tensor.is_object() && tensor.value("class_name", "") == "__keras_tensor__" &&
                 tensor.contains("config") && tensor["config"].is_object() &&
                 tensor["config"].contains("keras_history"),
             where, ": expected a __keras_tensor__ with a keras_history, got ", tensor.dump());
  return parse_reference(tensor["config"]["keras_history"], where);
}

// The input references of one call: tf.keras 2.x / TF.js [[name, node, tensor, kwargs], ...] or
// Keras 3 {"args": [tensor or [tensors]], "kwargs": {...}}.
std::vector<TensorRefSpec> parse_call(const json& call, const std::string& where) {
  std::vector<TensorRefSpec> refs;
  if (call.is_object()) {
    check_keys(call, {"args", "kwargs"}, where);
    if (call.contains("kwargs")) check_call_kwargs(call["kwargs"], where);
    KEEL_CHECK(call.contains("args") && call["args"].is_array() && call["args"].size() == 1, where,
               ": expected \"args\" with one tensor or list of tensors, got ", call.dump());
    const json& args = call["args"][0];
    if (args.is_array()) {
      for (const json& t : args) refs.push_back(parse_keras3_tensor(t, where));
    } else {
      refs.push_back(parse_keras3_tensor(args, where));
    }
    return refs;
  }
  KEEL_CHECK(call.is_array() && !call.empty(), where,
             ": expected a call as a list of tensor references, got ", call.dump());
  for (const json& ref : call) {
    refs.push_back(parse_reference(ref, where));
    if (ref.size() == 4) check_call_kwargs(ref[3], where);
  }
  return refs;
}

// Creates the layer of one entry (an InputLayer creates its symbolic input at once).
LayerEntry create_entry(const json& entry, const std::string& where) {
  const std::string class_name = entry_class_name(entry, where);
  check_keys(entry, {"class_name", "config", "name", "inbound_nodes", "module", "registered_name",
                     "build_config"},
             where);
  KEEL_CHECK(entry.contains("inbound_nodes") && entry["inbound_nodes"].is_array(), where,
             ": expected an \"inbound_nodes\" list");
  LayerEntry result{where, nullptr, &entry["inbound_nodes"], {}};
  if (class_name == "InputLayer") {
    const std::vector<int64_t> dims = input_layer_dims(entry, where);
    KEEL_CHECK(entry["inbound_nodes"].empty(), where, ": an InputLayer is called by nothing; got "
               "inbound_nodes ", entry["inbound_nodes"].dump());
    const json& config = entry["config"];
    std::string name = config.contains("name") && config["name"].is_string()
                           ? config["name"].get<std::string>()
                           : entry.value("name", std::string());
    KerasTensor input = Input(dims, {.name = std::move(name)});
    result.layer = input.node()->layer;
    result.calls.push_back(std::move(input));
  } else {
    result.layer = create_layer(entry, where);
  }
  if (entry.contains("name")) {
    KEEL_CHECK(entry["name"] == result.layer->name(), where, ": entry name ", entry["name"].dump(),
               " differs from the layer config's name '", result.layer->name(), "'");
  }
  return result;
}

class GraphReplay {
 public:
  GraphReplay(const json& layers, const std::string& source) : source_(source) {
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string where = source + ": " + describe_entry(static_cast<int64_t>(i), layers[i]);
      entries_.push_back(create_entry(layers[i], where));
      KEEL_CHECK(by_name_.emplace(entries_.back().layer->name(), i).second, where,
                 ": duplicate layer name '", entries_.back().layer->name(), "'");
    }
  }

  // Replays every call; fails naming the first call whose inputs never appear.
  void replay() {
    for (bool progress = true; progress;) {
      progress = false;
      for (LayerEntry& entry : entries_)
        while (replay_next_call(entry)) progress = true;
    }
    for (const LayerEntry& entry : entries_) {
      const size_t k = entry.layer->class_name() == "InputLayer" ? 0 : entry.calls.size();
      if (k == entry.inbound_nodes->size()) continue;
      const std::string where = entry.where + ": inbound node " + std::to_string(k);
      for (const TensorRefSpec& ref : parse_call((*entry.inbound_nodes)[k], where)) {
        if (!lookup(ref)) {
          KEEL_FAIL(where, ": input ", ref.text(), " ", describe_missing(ref));
        }
      }
    }
  }

  // The tensors of "input_layers" / "output_layers" (Keras 3 writes one reference unwrapped).
  std::vector<KerasTensor> endpoints(const json& list, const std::string& key) const {
    const std::string where = source_ + ": '" + key + "'";
    KEEL_CHECK(list.is_array() && !list.empty(), where, ": expected a non-empty list, got ",
               list.dump());
    const bool single = list[0].is_string();
    std::vector<KerasTensor> tensors;
    for (size_t i = 0; i < (single ? 1 : list.size()); ++i) {
      const TensorRefSpec ref = parse_reference(single ? list : list[i], where);
      const std::optional<KerasTensor> tensor = lookup(ref);
      KEEL_CHECK(tensor.has_value(), where, ": ", ref.text(), " ", describe_missing(ref));
      tensors.push_back(*tensor);
    }
    return tensors;
  }

 private:
  bool replay_next_call(LayerEntry& entry) {
    const size_t k = entry.calls.size();
    if (entry.layer->class_name() == "InputLayer" || k >= entry.inbound_nodes->size()) return false;
    const std::string where = entry.where + ": inbound node " + std::to_string(k);
    std::vector<KerasTensor> inputs;
    for (const TensorRefSpec& ref : parse_call((*entry.inbound_nodes)[k], where)) {
      std::optional<KerasTensor> tensor = lookup(ref);
      if (!tensor) return false;
      inputs.push_back(std::move(*tensor));
    }
    try {
      entry.calls.push_back(call_layer(entry.layer, inputs));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    return true;
  }

  std::optional<KerasTensor> lookup(const TensorRefSpec& ref) const {
    const auto it = by_name_.find(ref.layer);
    if (it == by_name_.end()) return std::nullopt;
    const LayerEntry& entry = entries_[it->second];
    if (ref.node_index < 0 || ref.node_index >= static_cast<int64_t>(entry.calls.size()))
      return std::nullopt;
    const KerasTensor& call = entry.calls[static_cast<size_t>(ref.node_index)];
    // A layer with several outputs (an RNN with return_state) is read by output index.
    const auto outputs = static_cast<int64_t>(call.node()->output_shapes.size());
    if (ref.tensor_index < 0 || ref.tensor_index >= outputs) return std::nullopt;
    return KerasTensor(call.node(), ref.tensor_index);
  }

  std::string describe_missing(const TensorRefSpec& ref) const {
    const auto it = by_name_.find(ref.layer);
    if (it == by_name_.end()) return "names no layer of the model";
    const LayerEntry& entry = entries_[it->second];
    // Not a cycle: the layer has no call to read (an InputLayer has its one call already).
    if (entry.inbound_nodes->empty() && entry.calls.empty())
      return "reads a layer that is never called (its \"inbound_nodes\" is empty)";
    const int64_t calls = std::max<int64_t>(1, static_cast<int64_t>(entry.inbound_nodes->size()));
    if (ref.node_index < 0 || ref.node_index >= calls)
      return "reads call " + std::to_string(ref.node_index) + " of a layer called " +
             std::to_string(calls) + " time(s)";
    if (ref.node_index < static_cast<int64_t>(entry.calls.size())) {
      const auto outputs =
          entry.calls[static_cast<size_t>(ref.node_index)].node()->output_shapes.size();
      return "reads output " + std::to_string(ref.tensor_index) + " of a layer with " +
             (outputs == 1 ? std::string("one output") : std::to_string(outputs) + " outputs");
    }
    return "is never computed: the calls depend on each other in a cycle";
  }

  std::string source_;
  std::vector<LayerEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace

Model functional_from_config(const json& model_json, const std::string& source, uint64_t seed) {
  const json& config = model_json["config"];
  const std::string what = source + ": " + model_json["class_name"].get<std::string>() + " config";
  KEEL_CHECK(config.is_object(), what, " must be an object, got ", config.type_name());
  check_keys(config, {"name", "trainable", "layers", "input_layers", "output_layers"}, what);
  for (const char* key : {"layers", "input_layers", "output_layers"})
    KEEL_CHECK(config.contains(key), what, " has no \"", key, "\" list");
  KEEL_CHECK(config["layers"].is_array(), what, ": \"layers\" must be a list, got ",
             config["layers"].type_name());
  GraphReplay graph(config["layers"], source);
  graph.replay();
  const std::vector<KerasTensor> inputs = graph.endpoints(config["input_layers"], "input_layers");
  const std::vector<KerasTensor> outputs = graph.endpoints(config["output_layers"], "output_layers");
  std::optional<Model> model;
  try {
    model.emplace(inputs, outputs, model_name(config, source));
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  apply_model_trainable(config, *model, source);
  model->build(std::nullopt, seed);
  return std::move(*model);
}

ordered_json functional_to_config(const Model& model) {
  KEEL_CHECK(model.built(), "model '", model.name(), "' must be built before writing its config");
  // [layer, node_index, tensor_index] of a tensor: its producer's call, or the InputLayer.
  const auto reference = [&](int64_t id) {
    const GraphTensor& tensor = model.tensors()[static_cast<size_t>(id)];
    if (tensor.producer < 0) return ordered_json::array({tensor.input_layer->name(), 0, 0});
    const GraphNode& node = model.nodes()[static_cast<size_t>(tensor.producer)];
    return ordered_json::array({node.layer->name(), node.node_index, tensor.output_index});
  };
  std::map<const Layer*, std::map<int64_t, const GraphNode*>> calls;  // by node_index
  for (const GraphNode& node : model.nodes()) calls[node.layer][node.node_index] = &node;

  ordered_json layers = ordered_json::array();
  for (const auto& layer : model.layers()) {
    ordered_json entry = layer_entry(*layer);
    entry["name"] = layer->name();
    entry["inbound_nodes"] = ordered_json::array();
    for (const auto& [index, node] : calls[layer.get()]) {
      ordered_json call = ordered_json::array();
      for (int64_t id : node->inputs) {
        ordered_json ref = reference(id);
        ref.push_back(ordered_json::object());
        call.push_back(std::move(ref));
      }
      entry["inbound_nodes"].push_back(std::move(call));
    }
    layers.push_back(std::move(entry));
  }
  ordered_json inputs = ordered_json::array(), outputs = ordered_json::array();
  for (int64_t id : model.input_tensors()) inputs.push_back(reference(id));
  for (int64_t id : model.output_tensors()) outputs.push_back(reference(id));

  ordered_json out;
  out["class_name"] = "Functional";
  out["config"]["name"] = model.name();
  out["config"]["trainable"] = true;
  out["config"]["layers"] = std::move(layers);
  out["config"]["input_layers"] = std::move(inputs);
  out["config"]["output_layers"] = std::move(outputs);
  out["keras_version"] = kKerasVersion;
  out["backend"] = "tensorflow";
  return out;
}

}  // namespace keel::model_config_detail
