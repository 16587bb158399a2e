#include "layer_config.h"

#include <algorithm>

#include "keel/core/error.h"
#include "keel/layers/dtype_policy.h"

namespace keel::layer_config {

namespace {
bool contains(std::initializer_list<std::string_view> list, std::string_view key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

std::vector<int64_t> shape_dims(const nlohmann::json& shape, std::string_view class_name,
                                const char* key, bool skip_batch) {
  KEEL_CHECK(shape.is_array(), class_name, ": '", key, "' must be a list, got ", shape.dump());
  std::vector<int64_t> dims;
  for (size_t i = skip_batch ? 1 : 0; i < shape.size(); ++i) {
    KEEL_CHECK(shape[i].is_number_integer() && shape[i].get<int64_t>() > 0, class_name, ": '", key,
               "' entry ", shape[i].dump(), " must be a positive integer");
    dims.push_back(shape[i].get<int64_t>());
  }
  return dims;
}
}  // namespace

BaseArgs parse_base(const nlohmann::json& config, std::string_view class_name,
                    std::initializer_list<std::string_view> allowed,
                    std::initializer_list<std::string_view> null_only) {
  KEEL_CHECK(config.is_object(), class_name, ": config must be a JSON object, got ", config.dump());
  BaseArgs base;
  for (const auto& [key, value] : config.items()) {
    if (key == "name") {
      KEEL_CHECK(value.is_string(), class_name, ": 'name' must be a string, got ", value.dump());
      base.name = value.get<std::string>();
    } else if (key == "trainable") {
      KEEL_CHECK(value.is_boolean(), class_name, ": 'trainable' must be a bool, got ", value.dump());
      base.trainable = value.get<bool>();
    } else if (key == "dtype") {
      // Checked here so that errors name the class; the registry applies it (model_config.cpp).
      DTypePolicy::from_config(value, std::string(class_name));
    } else if (key == "batch_input_shape") {
      KEEL_CHECK(value.is_array() && !value.empty(), class_name,
                 ": 'batch_input_shape' must be a non-empty list, got ", value.dump());
      base.input_shape = shape_dims(value, class_name, "batch_input_shape", true);
    } else if (key == "input_shape") {
      base.input_shape = shape_dims(value, class_name, "input_shape", false);
    } else if (key == "batch_size") {
      KEEL_CHECK(value.is_null(), class_name, ": 'batch_size' ", value.dump(),
                 " is not supported (keel takes the batch size at fit time); expected null");
    } else if (contains(null_only, key)) {
      KEEL_CHECK(value.is_null(), class_name, ": '", key, "' = ", value.dump(),
                 " is not supported; only null is accepted");
    } else {
      KEEL_CHECK(contains(allowed, key), class_name, ": unknown argument '", key, "'");
    }
  }
  return base;
}

double get_number(const nlohmann::json& config, std::string_view class_name, const char* key,
                  double fallback) {
  if (!config.contains(key)) return fallback;
  KEEL_CHECK(config[key].is_number(), class_name, ": '", key, "' must be a number, got ",
             config[key].dump());
  return config[key].get<double>();
}

int64_t get_int(const nlohmann::json& config, std::string_view class_name, const char* key,
                int64_t fallback) {
  if (!config.contains(key)) return fallback;
  KEEL_CHECK(config[key].is_number_integer(), class_name, ": '", key,
             "' must be an integer, got ", config[key].dump());
  return config[key].get<int64_t>();
}

bool get_bool(const nlohmann::json& config, std::string_view class_name, const char* key,
              bool fallback) {
  if (!config.contains(key)) return fallback;
  KEEL_CHECK(config[key].is_boolean(), class_name, ": '", key, "' must be true or false, got ",
             config[key].dump());
  return config[key].get<bool>();
}

std::string get_string(const nlohmann::json& config, std::string_view class_name, const char* key,
                       const std::string& fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  KEEL_CHECK(config[key].is_string(), class_name, ": '", key, "' must be a string, got ",
             config[key].dump());
  return config[key].get<std::string>();
}

}  // namespace keel::layer_config
