// Internal to src/io: the pieces keel/io/model_config.h is made of. model_config.cpp holds the
// layer registry, the checks every document shares and the entry points; sequential_config.cpp
// and functional_config.cpp read and write the two model classes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/layers/layer.h"
#include "keel/model/model.h"

namespace keel::model_config_detail {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// The keras_version keel writes: the tf.keras whose to_json() layout keel reproduces.
inline constexpr const char* kKerasVersion = "2.11.0";

// "layer 2 ('dense_1', Dense)" or "layer 2 (Dense)" when the entry has no name.
std::string describe_entry(int64_t index, const json& entry);

// Checks that an object has only the listed keys.
void check_keys(const json& object, std::initializer_list<std::string_view> allowed,
                const std::string& where);

// The dims after the batch dim of a Keras batch shape [null, d1, ...]; the batch must be null.
std::vector<int64_t> sample_dims(const json& shape, const std::string& where);

// The input shape of an InputLayer entry ("batch_input_shape", Keras 3 "batch_shape").
std::vector<int64_t> input_layer_dims(const json& entry, const std::string& where);

// Checks the {"class_name": ..., "config": ...} shape of a layer entry and returns its class name.
std::string entry_class_name(const json& entry, const std::string& where);

// A non-input layer from its entry, through the registry of Keras class names; errors are
// prefixed with `where`.
std::unique_ptr<Layer> create_layer(const json& entry, const std::string& where);

// The model config's "name" (empty when absent or null).
std::string model_name(const json& config, const std::string& source);

// Keras 3 writes the model's own `trainable`; model.trainable = False freezes every layer.
void apply_model_trainable(const json& config, Model& model, const std::string& source);

// Readers of the unwrapped {"class_name", "config"} document.
Model sequential_from_config(const json& model_json, const std::string& source, uint64_t seed);
Model functional_from_config(const json& model_json, const std::string& source, uint64_t seed);

// Writers of the tf.keras 2.11 to_json() layout, top-level keys in Keras's order.
ordered_json sequential_to_config(const Model& model);
ordered_json functional_to_config(const Model& model);

// A layer entry's {"class_name", "config"} (config keys sorted; readers do not care).
ordered_json layer_entry(const Layer& layer);

}  // namespace keel::model_config_detail
