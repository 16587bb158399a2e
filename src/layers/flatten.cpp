#include "keel/layers/flatten.h"

#include <cstring>

#include "keel/core/error.h"
#include "layer_config.h"

namespace keel {

Flatten::Flatten(FlattenOptions options)
    : UnaryLayer("flatten", std::move(options.name), std::move(options.input_shape)) {
  KEEL_CHECK(options.data_format == "channels_last", "layer '", name(), "' (Flatten): data_format '",
             options.data_format, "' is not supported; expected channels_last");
  set_trainable(options.trainable);
}

Shape Flatten::compute_output_shape(const Shape& input_shape) const {
  KEEL_CHECK(input_shape.rank() >= 1, "layer '", name(), "' (Flatten): input shape ",
             input_shape.to_string(), " has no batch dimension");
  // Keras flattens (None,) to (None, 1).
  return Shape{input_shape[0], input_shape.sample_size()};
}

void Flatten::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  if (x != y) std::memcpy(y, x, static_cast<size_t>(batch * input_shape().sample_size()) * sizeof(float));
}

void Flatten::unary_backward(const float*, const float*, const float* dy, float* dx, int64_t batch,
                            Write) {
  if (dx != nullptr && dx != dy) {
    std::memcpy(dx, dy, static_cast<size_t>(batch * input_shape().sample_size()) * sizeof(float));
  }
}

nlohmann::json Flatten::get_config() const {
  nlohmann::json config = base_config();
  config["data_format"] = "channels_last";
  return config;
}

std::unique_ptr<Layer> Flatten::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, "Flatten", {"data_format"});
  FlattenOptions options;
  options.data_format = layer_config::get_string(config, "Flatten", "data_format", "channels_last");
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<Flatten>(std::move(options));
}

}  // namespace keel
