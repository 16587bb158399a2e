// Keras JSON model configs: read a model from tf.keras `model.to_json()` text or a TF.js
// `model.json`, and write the tf.keras 2.11 `to_json()` layout.
//
// Accepted documents (all may carry extra top-level keys such as keras_version / backend /
// weightsManifest, which are ignored):
//   * Sequential, tf.keras >= 2.5: {"class_name": "Sequential", "config": {"name": ..., "layers": [
//       {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28], ...}}, ...]}};
//     older tf.keras: no InputLayer, the first layer's config has "batch_input_shape"; or the
//     Sequential config has "build_input_shape" (models built with model.build()).
//   * Functional (tf.keras >= 2.4; "Model" before, and in TF.js): {"class_name": "Functional",
//       "config": {"name", "layers": [{"class_name", "config", "name", "inbound_nodes": [[[
//       "dense", 0, 0, {}], ...], ...]}, ...], "input_layers": [["input_1", 0, 0]],
//       "output_layers": [...]}}; Keras 3's node format ({"args": [...], "kwargs": {}}) too.
//     Call arguments (a node's {"training": true}) and models nested as layers are errors.
//   * TF.js: the whole model.json ({"modelTopology": ...}) or the topology itself; the topology may
//     nest the model under "model_config", and a Sequential "config" may be the bare layer list.
// Layer names from the file are kept; layers without a name get Keras default names. Anything
// keel cannot honour (unknown layer class or argument, an unknown model class, no input shape, a
// fixed batch size, a call reading a layer that does not exist) is a keel::Error naming
// `source_name`, the layer (its index in the file's "layers" list, InputLayer included, and its
// name) and the key, e.g.
//   model.json: layer 1 ('odd_dense', Dense): Dense: unknown argument 'frobnicate'
// The model is named from the file; note that constructing a Sequential still consumes one default
// "sequential" name (Sequential's constructor always draws one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "keel/model/sequential.h"

namespace keel {

// Parses `json_text` and returns the model, built and initialised from `seed` (Sequential::build).
// `source_name` (a file name, "<string>") prefixes every error message.
Model model_from_json(const std::string& json_text, const std::string& source_name,
                           uint64_t seed = 42);

// The same from an already parsed document.
Model model_from_config(const nlohmann::json& document, const std::string& source_name,
                             uint64_t seed = 42);

// One layer from its Keras class name and get_config() dict, through the registry every config
// reader uses (what keras.layers.deserialize does; the Python front end builds layers this way).
// Keys left out take Keras's defaults. Errors are the layer's keel::Error, which names the class
// ("Dense: 'units' must be an integer, got \"abc\""); an unknown class lists the known ones.
std::unique_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config);

// Reads and parses the file; errors name the path (missing, unreadable, invalid JSON with line and
// column).
Model load_model_config(const std::filesystem::path& path, uint64_t seed = 42);

// tf.keras 2.11 `model.to_json()`: {"class_name": "Sequential", "config": {"name", "layers":
// [InputLayer "<first layer>_input", ...each layer's get_config()]}, "keras_version": "2.11.0",
// "backend": "tensorflow"}, or for a functional model {"class_name": "Functional", "config":
// {"name", "trainable", "layers" (model.layers order, each with "name" and "inbound_nodes"),
// "input_layers", "output_layers"}, ...}. A Sequential needs its input shape: the model must be
// built or its first layer must declare input_shape. model_from_json(model_to_json(m)) has m's
// summary and layer configs.
std::string model_to_json(const Model& model);
nlohmann::json model_to_config(const Model& model);

}  // namespace keel
