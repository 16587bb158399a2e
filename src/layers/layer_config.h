// Internal helpers for the layers' from_config: the keys every Keras layer config may carry, and
// strict checking of everything else (unknown keys are errors naming the class and the key).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace keel::layer_config {

// What every layer config may carry besides its own arguments.
struct BaseArgs {
  std::string name;
  bool trainable = true;
  std::vector<int64_t> input_shape;  // without the batch dim; empty when not declared
};

// Checks that `config` is an object whose keys are base keys (name, trainable, dtype,
// batch_input_shape, input_shape, batch_size), `allowed`, or `null_only` (regularizers and
// constraints: accepted only when null). Returns the base arguments.
BaseArgs parse_base(const nlohmann::json& config, std::string_view class_name,
                    std::initializer_list<std::string_view> allowed,
                    std::initializer_list<std::string_view> null_only = {});

// Typed getters that name the class and key in their errors.
double get_number(const nlohmann::json& config, std::string_view class_name, const char* key,
                  double fallback);
int64_t get_int(const nlohmann::json& config, std::string_view class_name, const char* key,
                int64_t fallback);
bool get_bool(const nlohmann::json& config, std::string_view class_name, const char* key,
              bool fallback);
std::string get_string(const nlohmann::json& config, std::string_view class_name, const char* key,
                       const std::string& fallback);

}  // namespace keel::layer_config
