// Initializer: Keras weight initializers with Keras formulas and config JSON.
//
// Accepts Keras string identifiers ("glorot_uniform", "he_normal", "zeros", ...) and Keras config
// objects ({"class_name": "VarianceScaling", "config": {...}}). he_* / lecun_* / glorot_* are
// VarianceScaling; truncated normals redraw values outside 2 stddev, and VarianceScaling's
// truncated_normal divides by 0.87962566103423978 so the truncated std is exact (Keras).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/core/rng.h"

namespace keel {

class Initializer {
 public:
  // Zeros.
  Initializer();
  // A Keras identifier: zeros, ones, constant (value 0), random_normal, random_uniform,
  // truncated_normal, orthogonal (gain 1), glorot_uniform, glorot_normal, he_normal, he_uniform, lecun_normal,
  // lecun_uniform (also their CamelCase class names). Unknown names throw keel::Error.
  Initializer(const char* identifier);  // NOLINT: implicit, so options read like Keras
  Initializer(std::string_view identifier);
  static Initializer constant(double value);
  // {"class_name": ..., "config": {...}} as tf.keras 2.x writes it, or a bare identifier string.
  static Initializer from_config(const nlohmann::json& config);
  // The {"class_name", "config"} object tf.keras 2.x writes (e.g. {"class_name": "HeNormal",
  // "config": {"seed": null}}).
  nlohmann::json to_config() const;
  const std::string& class_name() const { return class_name_; }

  // Fills `values` for a variable of `shape` (fans from Keras _compute_fans).
  void fill(std::span<float> values, const std::vector<int64_t>& shape, Rng& rng) const;

 private:
  std::string class_name_ = "Zeros";
  double value_ = 0.0;                   // Constant
  double mean_ = 0.0, stddev_ = 0.05;    // RandomNormal, TruncatedNormal
  double minval_ = -0.05, maxval_ = 0.05;  // RandomUniform
  double scale_ = 1.0;                   // VarianceScaling
  double gain_ = 1.0;                    // Orthogonal
  std::string mode_ = "fan_in";          // fan_in | fan_out | fan_avg
  std::string distribution_ = "truncated_normal";  // truncated_normal | untruncated_normal | uniform
  std::optional<int64_t> seed_;
};

}  // namespace keel
