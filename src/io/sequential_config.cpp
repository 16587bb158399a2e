// Sequential model configs: tf.keras to_json() ("layers" with a leading InputLayer, or the first
// layer's batch_input_shape, or build_input_shape), Keras 3 and TF.js variants (model_config.h).
#include <optional>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/model/sequential.h"
#include "model_config_parts.h"

namespace keel::model_config_detail {

namespace {

// The model input shape the config declares (InputLayer or build_input_shape) must agree with the
// first layer's own batch_input_shape, as Keras would reject the mismatch when calling it; one of
// them must exist.
void check_declared_input(const Model& model, const std::optional<std::vector<int64_t>>& input_dims,
                          const std::string& source) {
  const auto& declared = model.layer(0).declared_input_shape();
  if (input_dims && !declared.empty()) {
    KEEL_CHECK(*input_dims == declared, source, ": layer 0 ('", model.layer(0).name(),
               "') declares input shape ", Shape::batched(declared).to_string(),
               " but the model input is ", Shape::batched(*input_dims).to_string());
  }
  if (!input_dims && declared.empty()) {
    KEEL_FAIL(source, ": the model's input shape is unknown: there is no InputLayer with "
              "'batch_input_shape' and layer 0 ('", model.layer(0).name(),
              "') declares no 'batch_input_shape'");
  }
}

}  // namespace

Model sequential_from_config(const json& model_json, const std::string& source, uint64_t seed) {
  const json& config = model_json["config"];
  // Keras < 2.2.3 (and TF.js topologies converted from it) store the bare list of layers.
  const json* layers = &config;
  std::string name;
  std::optional<std::vector<int64_t>> input_dims;
  if (config.is_object()) {
    check_keys(config, {"name", "layers", "build_input_shape", "trainable", "dtype"},
               source + ": Sequential config");
    KEEL_CHECK(config.contains("layers"), source, ": Sequential config has no \"layers\" list");
    layers = &config["layers"];
    name = model_name(config, source);
    if (config.contains("build_input_shape") && !config["build_input_shape"].is_null())
      input_dims = sample_dims(config["build_input_shape"], source + ": 'build_input_shape'");
  }
  KEEL_CHECK(layers->is_array(), source, ": Sequential \"layers\" must be a list, got ",
             layers->type_name());

  // A named model must not consume a default name ("sequential"), as in Keras.
  Sequential model = name.empty() ? Sequential() : Sequential(name);
  for (size_t i = 0; i < layers->size(); ++i) {
    const json& entry = (*layers)[i];
    const std::string where = source + ": " + describe_entry(static_cast<int64_t>(i), entry);
    const std::string class_name = entry_class_name(entry, where);
    check_keys(entry, {"class_name", "config", "module", "registered_name", "build_config", "name"},
               where);
    if (class_name == "InputLayer") {
      KEEL_CHECK(i == 0, where, ": an InputLayer is only allowed as the first layer");
      input_dims = input_layer_dims(entry, where);
      continue;
    }
    std::unique_ptr<Layer> layer = create_layer(entry, where);
    try {
      model.add(std::move(layer));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  KEEL_CHECK(model.num_layers() > 0, source, ": the Sequential model has no layers");
  if (config.is_object()) apply_model_trainable(config, model, source);
  check_declared_input(model, input_dims, source);
  try {
    model.build(input_dims ? std::optional<Shape>(Shape::batched(*input_dims)) : std::nullopt,
                seed);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return model;
}

ordered_json sequential_to_config(const Model& model) {
  KEEL_CHECK(model.num_layers() > 0, "model '", model.name(), "' has no layers to serialise");
  const Layer& first = model.layer(0);
  std::vector<int64_t> dims;
  if (model.built()) {
    const auto& full = model.input_shape().dims();
    dims.assign(full.begin() + 1, full.end());
  } else {
    dims = first.declared_input_shape();
  }
  KEEL_CHECK(!dims.empty(), "model '", model.name(),
             "': the input shape is unknown; build the model or give layer '", first.name(),
             "' an input_shape before writing its config");
  ordered_json batch_shape = ordered_json::array({nullptr});
  for (int64_t d : dims) batch_shape.push_back(d);

  ordered_json input_config;
  input_config["batch_input_shape"] = batch_shape;
  input_config["dtype"] = "float32";
  input_config["sparse"] = false;
  input_config["ragged"] = false;
  input_config["name"] = first.name() + "_input";
  ordered_json layers = ordered_json::array();
  layers.push_back({{"class_name", "InputLayer"}, {"config", input_config}});
  for (int64_t i = 0; i < model.num_layers(); ++i) layers.push_back(layer_entry(model.layer(i)));

  ordered_json out;
  out["class_name"] = "Sequential";
  out["config"]["name"] = model.name();
  out["config"]["layers"] = std::move(layers);
  out["keras_version"] = kKerasVersion;
  out["backend"] = "tensorflow";
  return out;
}

}  // namespace keel::model_config_detail
