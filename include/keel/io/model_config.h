// Keras JSON model configs: read a Sequential from tf.keras `model.to_json()` text or a TF.js
// `model.json`, and write the tf.keras 2.11 `to_json()` layout.
//
// Accepted documents (all may carry extra top-level keys such as keras_version / backend /
// weightsManifest, which are ignored):
//   * tf.keras >= 2.5: {"class_name": "Sequential", "config": {"name": ..., "layers": [
//       {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28], ...}}, ...]}}
//   * older tf.keras: no InputLayer, the first layer's config has "batch_input_shape"; or the
//     Sequential config has "build_input_shape" (models built with model.build()).
//   * TF.js: the whole model.json ({"modelTopology": ...}) or the topology itself; the topology may
//     nest the model under "model_config", and its "config" may be the bare list of layers.
// Layer names from the file are kept; layers without a name get Keras default names. Anything
// keel cannot honour (unknown layer class or argument, a non-Sequential model, no input shape, a
// fixed batch size) is a keel::Error naming `source_name`, the layer (its index in the file's
// "layers" list, InputLayer included, and its name) and the key, e.g.
//   model.json: layer 1 ('odd_dense', Dense): Dense: unknown argument 'frobnicate'
// The model is named from the file; note that constructing it still consumes one default
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

// Reads and parses the file; errors name the path (missing, unreadable, invalid JSON with line and
// column).
Model load_model_config(const std::filesystem::path& path, uint64_t seed = 42);

// tf.keras 2.11 `model.to_json()`: {"class_name": "Sequential", "config": {"name", "layers":
// [InputLayer "<first layer>_input", ...each layer's get_config()]}, "keras_version": "2.11.0",
// "backend": "tensorflow"}. Needs the input shape: the model must be built or its first layer must
// declare input_shape. model_from_json(model_to_json(m)) has m's summary and layer configs.
std::string model_to_json(const Model& model);
nlohmann::json model_to_config(const Model& model);

}  // namespace keel
