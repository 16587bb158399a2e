// Keras's dtype policy (keras.mixed_precision.Policy): the dtype a layer computes in and the one
// its variables are kept in.
//
//   keel::mixed_precision::set_global_policy("mixed_bfloat16");  // before building the model
//   keel::Dense(10, {.dtype = "float32"})                        // or per layer
//
// keel has two policies:
//   "float32"         everything in float32 (the default).
//   "mixed_bfloat16"  variables, optimizer state and layer outputs in float32; the matmul and
//                     convolution inputs of the layers that have them (Dense, Conv2D) rounded to
//                     bfloat16, products summed in float32 (bf16.h says which kernels run; on a
//                     CPU without avx512_bf16 the layers compute in float32 after one warning).
//                     BatchNormalization, softmax and the losses compute in float32, as Keras
//                     does for them under this policy.
// Keras also keeps each layer's *output* in bfloat16 under mixed_bfloat16; keel keeps outputs in
// float32 (one rounding fewer between layers). "mixed_float16", "float16", "bfloat16" and
// "float64" are Keras policies keel does not implement: asking for them is an error that says so.
//
// As in Keras a layer takes the global policy when it is constructed; configs carry the policy
// as Keras writes it: "float32", or {"class_name": "Policy", "config": {"name":
// "mixed_bfloat16"}} (tf.keras 2.x), {"class_name": "DTypePolicy", ...} (Keras 3) read too.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace keel {

class DTypePolicy {
 public:
  DTypePolicy() = default;  // "float32"
  // Keras's names; anything else is a keel::Error with Keras's message plus what keel supports.
  DTypePolicy(const char* name) : DTypePolicy(std::string(name)) {}  // NOLINT: Keras passes strings
  DTypePolicy(const std::string& name);                              // NOLINT

  const std::string& name() const { return name_; }
  // "bfloat16" or "float32".
  std::string compute_dtype() const { return mixed_bfloat16_ ? "bfloat16" : "float32"; }
  std::string variable_dtype() const { return "float32"; }
  bool computes_in_bf16() const { return mixed_bfloat16_; }
  bool operator==(const DTypePolicy&) const = default;

  // A layer config's "dtype" value: a dtype name or a serialized Policy / DTypePolicy. `where`
  // names the layer in errors.
  static DTypePolicy from_config(const nlohmann::json& dtype, const std::string& where);
  // As tf.keras 2.x writes it: "float32" for float32, else {"class_name": "Policy", ...}.
  nlohmann::json to_config() const;

 private:
  std::string name_ = "float32";
  bool mixed_bfloat16_ = false;
};

namespace mixed_precision {
// keras.mixed_precision.set_global_policy / global_policy. Applies to layers constructed
// afterwards (in this process).
void set_global_policy(const DTypePolicy& policy);
DTypePolicy global_policy();
}  // namespace mixed_precision

}  // namespace keel
