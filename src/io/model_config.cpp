// Keras JSON model configs (keel/io/model_config.h): the entry points, the layer registry and the
// checks every document shares. sequential_config.cpp and functional_config.cpp read and write
// the two model classes.
//
// Layers are created through a registry of Keras class name -> Layer::from_config. Errors thrown by
// a layer's from_config name the class and the key; the readers add the source and the layer's
// index and name, so a user can find the entry in the file.
#include "keel/io/model_config.h"

#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "keel/core/error.h"
#include "keel/io/file_bytes.h"
#include "keel/layers/layers.h"
#include "model_config_parts.h"

namespace keel {

namespace model_config_detail {

namespace {

using LayerFactory = std::function<std::unique_ptr<Layer>(const json&)>;

const std::map<std::string, LayerFactory, std::less<>>& layer_registry() {
  static const std::map<std::string, LayerFactory, std::less<>> registry = [] {
    std::map<std::string, LayerFactory, std::less<>> r = {
        {"Activation", &Activation::from_config},
        {"BatchNormalization", &BatchNormalization::from_config},
        {"Bidirectional", &Bidirectional::from_config},
        {"AveragePooling2D", &AveragePooling2D::from_config},
        {"Concatenate", &Concatenate::from_config},
        {"Conv2D", &Conv2D::from_config},
        {"Dense", &Dense::from_config},
        {"DepthwiseConv2D", &DepthwiseConv2D::from_config},
        {"Dropout", &Dropout::from_config},
        {"Embedding", &Embedding::from_config},
        {"FixupBias", &FixupBias::from_config},   // keel only (not in Keras)
        {"FixupScale", &FixupScale::from_config}, // keel only (not in Keras)
        {"Flatten", &Flatten::from_config},
        {"GlobalAveragePooling2D", &GlobalAveragePooling2D::from_config},
        {"GlobalMaxPooling2D", &GlobalMaxPooling2D::from_config},
        {"GRU", &GRU::from_config},
        {"LayerNormalization", &LayerNormalization::from_config},
        {"LSTM", &LSTM::from_config},
        {"MaxPooling2D", &MaxPooling2D::from_config},
        {"Reshape", &Reshape::from_config},
        {"SimpleRNN", &SimpleRNN::from_config},
        {"SyncBatchNormalization", &BatchNormalization::sync_from_config},  // tf.keras 2.x
        {"ZeroPadding2D", &ZeroPadding2D::from_config},
    };
    for (const char* merge : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
      r.emplace(merge, [merge](const json& config) { return elementwise_merge_from_config(merge, config); });
    }
    return r;
  }();
  return registry;
}

// The class's from_config, then the config's dtype policy (a config without "dtype" keeps the
// global policy the constructor took, as in Keras).
std::unique_ptr<Layer> construct(const LayerFactory& factory, const json& config) {
  std::unique_ptr<Layer> layer = factory(config);
  if (config.is_object() && config.contains("dtype")) {
    layer->set_dtype_policy(DTypePolicy::from_config(config["dtype"], layer->name()));
  }
  return layer;
}

std::string known_classes() {
  std::string names;
  for (const auto& [name, factory] : layer_registry()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

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

void check_keys(const json& object, std::initializer_list<std::string_view> allowed,
                const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    KEEL_CHECK(known, where, ": unknown argument '", key, "' = ", value.dump());
  }
}

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

std::string entry_class_name(const json& entry, const std::string& where) {
  KEEL_CHECK(entry.is_object() && entry.contains("class_name") && entry["class_name"].is_string(),
             where, ": expected {\"class_name\": ..., \"config\": {...}}, got ", entry.dump());
  return entry["class_name"].get<std::string>();
}

std::unique_ptr<Layer> create_layer(const json& entry, const std::string& where) {
  const std::string class_name = entry_class_name(entry, where);
  const auto factory = layer_registry().find(class_name);
  if (factory == layer_registry().end()) {
    const bool model = class_name == "Sequential" || class_name == "Functional" ||
                       class_name == "Model";
    KEEL_FAIL(where, ": ", model ? "a model nested as a layer ('" + class_name +
                                       "') is not supported; flatten it into its parent"
                                 : "unknown layer class '" + class_name + "'",
              "; keel supports ", known_classes());
  }
  KEEL_CHECK(entry.contains("config"), where, ": layer has no \"config\"");
  try {
    return construct(factory->second, entry["config"]);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

}  // namespace model_config_detail

std::unique_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config) {
  const auto& registry = model_config_detail::layer_registry();
  const auto factory = registry.find(class_name);
  // An unknown class: create_layer's error, which lists the classes keel has.
  if (factory == registry.end()) return model_config_detail::create_layer({{"class_name", class_name}}, class_name);
  return model_config_detail::construct(factory->second, config);  // its errors already name the class ("Dense: 'units' must ...")
}

namespace model_config_detail {

std::string model_name(const json& config, const std::string& source) {
  if (!config.contains("name") || config["name"].is_null()) return {};
  KEEL_CHECK(config["name"].is_string(), source, ": model 'name' must be a string, got ",
             config["name"].dump());
  return config["name"].get<std::string>();
}

void apply_model_trainable(const json& config, Model& model, const std::string& source) {
  if (!config.contains("trainable")) return;
  KEEL_CHECK(config["trainable"].is_boolean(), source, ": model 'trainable' must be a bool, got ",
             config["trainable"].dump());
  if (!config["trainable"].get<bool>())
    for (int64_t i = 0; i < model.num_layers(); ++i) model.layer(i).set_trainable(false);
}

ordered_json layer_entry(const Layer& layer) {
  ordered_json entry;
  entry["class_name"] = layer.class_name();
  entry["config"] = ordered_json::parse(layer.get_config().dump());
  return entry;
}

namespace {

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
  KEEL_CHECK(model->contains("config"), source, ": ", (*model)["class_name"].dump(),
             " has no \"config\"");
  return *model;
}

Model model_from_document(const json& document, const std::string& source, uint64_t seed) {
  const json& model = model_document(document, source);
  const json& class_name = model["class_name"];
  if (class_name == "Sequential") return sequential_from_config(model, source, seed);
  // "Model" is the tf.keras < 2.4 name of the class TF.js also registers.
  if (class_name == "Functional" || class_name == "Model")
    return functional_from_config(model, source, seed);
  KEEL_FAIL(source, ": model class_name ", class_name.dump(),
            " is not supported; keel reads Sequential and Functional models");
}

}  // namespace

}  // namespace model_config_detail

using json = nlohmann::json;
using model_config_detail::model_from_document;
using model_config_detail::functional_to_config;
using model_config_detail::sequential_to_config;

Model model_from_config(const json& document, const std::string& source, uint64_t seed) {
  // nlohmann throws its own exceptions from inside the checks, e.g. type_error.316 when dump()
  // meets invalid UTF-8 in a string it is quoting for an error message: still bad input.
  try {
    return model_from_document(document, source, seed);
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
  return json::parse(model_to_json(model));
}

std::string model_to_json(const Model& model) {
  return (model.is_sequential() ? sequential_to_config(model) : functional_to_config(model)).dump();
}

}  // namespace keel
