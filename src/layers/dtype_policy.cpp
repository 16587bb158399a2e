#include "keel/layers/dtype_policy.h"

#include <mutex>

#include <nlohmann/json.hpp>

#include "keel/core/error.h"

namespace keel {

DTypePolicy::DTypePolicy(const std::string& name) : name_(name) {
  if (name == "mixed_bfloat16") {
    mixed_bfloat16_ = true;
    return;
  }
  if (name == "float32") return;
  const bool keras_knows = name == "mixed_float16" || name == "float16" || name == "bfloat16" ||
                           name == "float64" || name == "half" || name == "double";
  if (keras_knows) {
    throw Error("dtype policy '" + name + "' is a Keras policy keel does not implement; keel " +
                "supports 'float32' and 'mixed_bfloat16'");
  }
  // Keras's own message (keras/mixed_precision/policy.py), then keel's choices.
  throw Error("Cannot convert value " + name + " to a mixed precision Policy. Valid policies " +
              "include 'mixed_float16', 'mixed_bfloat16', and the name of any dtype such as " +
              "'float32'. (keel supports 'float32' and 'mixed_bfloat16'.)");
}

DTypePolicy DTypePolicy::from_config(const nlohmann::json& dtype, const std::string& where) {
  if (dtype.is_null()) return mixed_precision::global_policy();
  if (dtype.is_string()) {
    try {
      return DTypePolicy(dtype.get<std::string>());
    } catch (const Error& e) {
      throw Error(where + ": 'dtype': " + e.what());
    }
  }
  const bool serialized = dtype.is_object() && dtype.contains("class_name") &&
                          dtype.contains("config") && dtype["config"].is_object() &&
                          dtype["config"].contains("name") && dtype["config"]["name"].is_string();
  KEEL_CHECK(serialized, where, ": 'dtype' must be a dtype name or a serialized Policy "
             "({\"class_name\": \"Policy\", \"config\": {\"name\": ...}}), got ", dtype.dump());
  const std::string class_name = dtype["class_name"].is_string() ? dtype["class_name"].get<std::string>() : "";
  KEEL_CHECK(class_name == "Policy" || class_name == "DTypePolicy", where,
             ": 'dtype' class_name must be \"Policy\" (tf.keras 2.x) or \"DTypePolicy\" (Keras 3), got ",
             dtype["class_name"].dump());
  return from_config(dtype["config"]["name"], where);
}

nlohmann::json DTypePolicy::to_config() const {
  if (!mixed_bfloat16_) return name_;
  return {{"class_name", "Policy"}, {"config", {{"name", name_}}}};
}

namespace mixed_precision {

namespace {
std::mutex global_mutex;
DTypePolicy& global() {
  static DTypePolicy policy;
  return policy;
}
}  // namespace

void set_global_policy(const DTypePolicy& policy) {
  const std::lock_guard lock(global_mutex);
  global() = policy;
}

DTypePolicy global_policy() {
  const std::lock_guard lock(global_mutex);
  return global();
}

}  // namespace mixed_precision

}  // namespace keel
