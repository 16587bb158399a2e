// Keras JSON model configs (keel/io/model_config.h).
//
// Layers are created through a registry of Keras class name -> Layer::from_config. Errors thrown by
// a layer's from_config name the class and the key; this file adds the source and the layer's
// index and name, so a user can find the entry in the file.
#include "keel/io/model_config.h"

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "keel/core/error.h"
#include "keel/io/file_bytes.h"
#include "keel/layers/layers.h"

namespace keel {

namespace {

using json = nlohmann::json;
using LayerFactory = std::function<std::unique_ptr<Layer>(const json&)>;

const std::map<std::string, LayerFactory, std::less<>>& layer_registry() {
  static const std::map<std::string, LayerFactory, std::less<>> registry = [] {
    std::map<std::string, LayerFactory, std::less<>> r = {
        {"Activation", &Activation::from_config},
        {"BatchNormalization", &BatchNormalization::from_config},
        {"Concatenate", &Concatenate::from_config},
        {"Dense", &Dense::from_config},
        {"Dropout", &Dropout::from_config},
        {"FixupBias", &FixupBias::from_config},   // keel only (not in Keras)
        {"FixupScale", &FixupScale::from_config}, // keel only (not in Keras)
        {"Flatten", &Flatten::from_config},
    };
    for (const char* merge : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
      r.emplace(merge, [merge](const json& config) { return elementwise_merge_from_config(merge, config); });
    }
    return r;
  }();
  return registry;
}

std::string known_classes() {
  std::string names;
  for (const auto& [name, factory] : layer_registry()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

// "layer 2 ('dense_1', Dense)" or "layer 2 (Dense)" when the entry has no name.
std::string describe_entry(int64_t index, const json& entry) {
  std::string text = "layer " + std::to_string(index) + " (";
  const json* config = entry.is_object() && entry.contains("config") ? &entry["config"] : nullptr;
  if (config && config->is_object() && config->contains("name") && (*config)["name"].is_string())
    text += "'" + (*config)["name"].get<std::string>() + "', ";
  const bool has_class = entry.is_object() && entry.contains("class_name") &&
                         entry["class_name"].is_string();
  text += has_class ? entry["class_name"].get<std::string>() : std::string("no class_name");
  return text + ")";
}

// The dims after the batch dim of a Keras batch shape [null, d1, ...]; the batch must be null.
std::vector<int64_t> sample_dims(const json& shape, const std::string& where) {
  KEEL_CHECK(shape.is_array() && shape.size() >= 2, where, ": expected a batch shape like [null, 28, 28], got ",
             shape.dump());
  KEEL_CHECK(shape[0].is_null(), where, ": batch dimension ", shape[0].dump(),
             " is fixed; keel takes the batch size at fit time, expected null");
  std::vector<int64_t> dims;
  for (size_t i = 1; i < shape.size(); ++i) {
    KEEL_CHECK(shape[i].is_number_integer() && shape[i].get<int64_t>() > 0, where, ": dimension ",
               i, " = ", shape[i].dump(), " must be a positive integer");
    dims.push_back(shape[i].get<int64_t>());
  }
  return dims;
}

// Checks that an object has only the listed keys.
void check_keys(const json& object, std::initializer_list<std::string_view> allowed,
                const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    KEEL_CHECK(known, where, ": unknown argument '", key, "' = ", value.dump());
  }
}

// The input shape of an InputLayer entry ("batch_input_shape", Keras 3 "batch_shape").
std::vector<int64_t> input_layer_dims(const json& entry, const std::string& where) {
  KEEL_CHECK(entry.contains("config") && entry["config"].is_object(), where,
             ": InputLayer has no \"config\" object");
  const json& config = entry["config"];
  check_keys(config, {"batch_input_shape", "batch_shape", "dtype", "sparse", "ragged", "name"},
             where);
  for (const char* flag : {"sparse", "ragged"}) {
    KEEL_CHECK(!config.contains(flag) || config[flag].is_null() || config[flag] == false, where,
               ": '", flag, "' = ", config[flag].dump(), " is not supported; expected false");
  }
  if (config.contains("dtype") && !config["dtype"].is_null()) {
    KEEL_CHECK(config["dtype"] == "float32", where, ": dtype ", config["dtype"].dump(),
               " is not supported; expected \"float32\"");
  }
  const char* key = config.contains("batch_input_shape") ? "batch_input_shape" : "batch_shape";
  KEEL_CHECK(config.contains(key), where,
             ": InputLayer has no 'batch_input_shape'; the model's input shape is unknown");
  return sample_dims(config[key], where + " '" + key + "'");
}

// Unwraps a TF.js model.json / topology / model_config down to {"class_name", "config"}.
const json& model_document(const json& document, const std::string& source) {
  KEEL_CHECK(document.is_object(), source, ": expected a JSON object (a Keras model config), got ",
             document.type_name());
  const json* model = &document;
  if (model->contains("modelTopology")) model = &(*model)["modelTopology"];
  KEEL_CHECK(model->is_object(), source, ": 'modelTopology' must be an object");
  if (model->contains("model_config")) model = &(*model)["model_config"];
  KEEL_CHECK(model->is_object() && model->contains("class_name"), source,
             ": no \"class_name\" found; expected a Keras model config such as model.to_json() "
             "writes, or a TF.js model.json");
  const json& class_name = (*model)["class_name"];
  KEEL_CHECK(class_name == "Sequential", source, ": model class_name ", class_name.dump(),
             " is not supported; keel reads Sequential models only");
  KEEL_CHECK(model->contains("config"), source, ": Sequential has no \"config\"");
  return *model;
}

// model_from_config without the json::exception guard.
Model sequential_from_config(const json& document, const std::string& source, uint64_t seed) {
  const json& model_json = model_document(document, source);
  const json& config = model_json["config"];

  // Keras < 2.2.3 (and TF.js topologies converted from it) store the bare list of layers.
  const json* layers = &config;
  std::optional<std::string> name;
  std::optional<std::vector<int64_t>> input_dims;
  if (config.is_object()) {
    check_keys(config, {"name", "layers", "build_input_shape", "trainable", "dtype"},
               source + ": Sequential config");
    KEEL_CHECK(config.contains("layers"), source, ": Sequential config has no \"layers\" list");
    layers = &config["layers"];
    if (config.contains("name") && !config["name"].is_null()) {
      KEEL_CHECK(config["name"].is_string(), source, ": model 'name' must be a string, got ",
                 config["name"].dump());
      name = config["name"].get<std::string>();
    }
    if (config.contains("build_input_shape") && !config["build_input_shape"].is_null())
      input_dims = sample_dims(config["build_input_shape"], source + ": 'build_input_shape'");
  }
  KEEL_CHECK(layers->is_array(), source, ": Sequential \"layers\" must be a list, got ",
             layers->type_name());

  // A named model must not consume a default name ("sequential"), as in Keras.
  Sequential model = name ? Sequential(*name) : Sequential();
  for (size_t i = 0; i < layers->size(); ++i) {
    const json& entry = (*layers)[i];
    const auto index = static_cast<int64_t>(i);
    const std::string where = source + ": " + describe_entry(index, entry);
    KEEL_CHECK(entry.is_object() && entry.contains("class_name") && entry["class_name"].is_string(),
               where, ": expected {\"class_name\": ..., \"config\": {...}}, got ", entry.dump());
    check_keys(entry, {"class_name", "config", "module", "registered_name", "build_config", "name"},
               where);
    const std::string class_name = entry["class_name"].get<std::string>();
    if (class_name == "InputLayer") {
      KEEL_CHECK(i == 0, where, ": an InputLayer is only allowed as the first layer");
      input_dims = input_layer_dims(entry, where);
      continue;
    }
    const auto factory = layer_registry().find(class_name);
    KEEL_CHECK(factory != layer_registry().end(), where, ": unknown layer class '", class_name,
               "'; keel supports ", known_classes());
    KEEL_CHECK(entry.contains("config"), where, ": layer has no \"config\"");
    std::unique_ptr<Layer> layer;
    try {
      layer = factory->second(entry["config"]);
      model.add(std::move(layer));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  KEEL_CHECK(model.num_layers() > 0, source, ": the Sequential model has no layers");
  // Keras 3 writes the model's own `trainable`; model.trainable = False freezes every layer.
  if (config.is_object() && config.contains("trainable")) {
    KEEL_CHECK(config["trainable"].is_boolean(), source, ": model 'trainable' must be a bool, got ",
               config["trainable"].dump());
    if (!config["trainable"].get<bool>())
      for (int64_t i = 0; i < model.num_layers(); ++i) model.layer(i).set_trainable(false);
  }

  // The InputLayer (or build_input_shape) gives the shape; a first layer that also declares one
  // must agree, as Keras would reject the mismatch when calling it.
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
  try {
    model.build(input_dims ? std::optional<Shape>(Shape::batched(*input_dims)) : std::nullopt,
                seed);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return model;
}

}  // namespace

Model model_from_config(const json& document, const std::string& source, uint64_t seed) {
  // nlohmann throws its own exceptions from inside the checks, e.g. type_error.316 when dump()
  // meets invalid UTF-8 in a string it is quoting for an error message: still bad input.
  try {
    return sequential_from_config(document, source, seed);
  } catch (const json::exception& e) {
    KEEL_FAIL(source, ": malformed config (", e.what(), ")");
  }
}

Model model_from_json(const std::string& json_text, const std::string& source_name,
                           uint64_t seed) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& e) {
    // parse_error (syntax) and out_of_range.406 (a number like 1e999) are both invalid input.
    // what() is "[json.exception.parse_error.101] parse error at line L, column C: ..."
    std::string message = e.what();
    const size_t bracket = message.find("] ");
    if (message.starts_with("[json.exception.") && bracket != std::string::npos)
      message = message.substr(bracket + 2);
    KEEL_FAIL(source_name, ": invalid JSON: ", message);
  }
  return model_from_config(document, source_name, seed);
}

Model load_model_config(const std::filesystem::path& path, uint64_t seed) {
  const std::vector<std::byte> bytes = read_file_bytes(path);
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return model_from_json(text, path.string(), seed);
}

nlohmann::json model_to_config(const Model& model) {
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
  json batch_shape = json::array({nullptr});
  for (int64_t d : dims) batch_shape.push_back(d);

  json layers = json::array();
  layers.push_back({{"class_name", "InputLayer"},
                    {"config",
                     {{"batch_input_shape", batch_shape},
                      {"dtype", "float32"},
                      {"sparse", false},
                      {"ragged", false},
                      {"name", first.name() + "_input"}}}});
  for (int64_t i = 0; i < model.num_layers(); ++i) {
    const Layer& layer = model.layer(i);
    layers.push_back({{"class_name", layer.class_name()}, {"config", layer.get_config()}});
  }
  return {{"class_name", "Sequential"},
          {"config", {{"name", model.name()}, {"layers", std::move(layers)}}},
          {"keras_version", "2.11.0"},
          {"backend", "tensorflow"}};
}

std::string model_to_json(const Model& model) {
  // Keras's top-level key order (nlohmann::json would sort it); layer configs keep their own.
  const json config = model_to_config(model);
  nlohmann::ordered_json out;
  for (const char* key : {"class_name", "config", "keras_version", "backend"})
    out[key] = nlohmann::ordered_json::parse(config[key].dump());
  return out.dump();
}

}  // namespace keel
