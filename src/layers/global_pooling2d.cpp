#include "keel/layers/global_pooling2d.h"

#include "keel/core/error.h"
#include "keel/kernels/pool.h"
#include "layer_config.h"
#include "spatial_config.h"

namespace keel {

GlobalPooling2D::GlobalPooling2D(std::string_view prefix, std::string_view cls,
                                 GlobalPooling2DOptions options)
    : UnaryLayer(prefix, options.name, options.input_shape), options_(std::move(options)) {
  spatial_config::check_data_format(options_.data_format, name(), cls);
  set_trainable(options_.trainable);
}

Shape GlobalPooling2D::compute_output_shape(const Shape& in) const {
  KEEL_CHECK(in.rank() == 4, "layer '", name(), "' (", class_name(), "): input shape ",
             in.to_string(), " is not supported; expected (None, height, width, channels)");
  return options_.keepdims ? Shape{in[0], 1, 1, in[3]} : Shape{in[0], in[3]};
}

nlohmann::json GlobalPooling2D::get_config() const {
  nlohmann::json config = base_config();
  config["data_format"] = "channels_last";
  config["keepdims"] = options_.keepdims;
  return config;
}

GlobalPooling2DOptions GlobalPooling2D::options_from_config(const nlohmann::json& config,
                                                            std::string_view cls) {
  auto base = layer_config::parse_base(config, cls, {"data_format", "keepdims"});
  GlobalPooling2DOptions options;
  options.data_format = layer_config::get_string(config, cls, "data_format", "channels_last");
  options.keepdims = layer_config::get_bool(config, cls, "keepdims", false);
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return options;
}

GlobalAveragePooling2D::GlobalAveragePooling2D(GlobalPooling2DOptions options)
    : GlobalPooling2D("global_average_pooling2d", "GlobalAveragePooling2D", std::move(options)) {}

void GlobalAveragePooling2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  global_avg_pool_forward(x, y, batch, spatial(), channels());
}

void GlobalAveragePooling2D::unary_backward(const float*, const float*, const float* dy,
                                            float* dx, int64_t batch, Write) {
  if (dx != nullptr) global_avg_pool_backward(dy, dx, batch, spatial(), channels());
}

std::unique_ptr<Layer> GlobalAveragePooling2D::from_config(const nlohmann::json& config) {
  return std::make_unique<GlobalAveragePooling2D>(
      options_from_config(config, "GlobalAveragePooling2D"));
}

GlobalMaxPooling2D::GlobalMaxPooling2D(GlobalPooling2DOptions options)
    : GlobalPooling2D("global_max_pooling2d", "GlobalMaxPooling2D", std::move(options)) {}

void GlobalMaxPooling2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  global_max_pool_forward(x, y, batch, spatial(), channels());
}

void GlobalMaxPooling2D::unary_backward(const float* x, const float* y, const float* dy,
                                        float* dx, int64_t batch, Write) {
  if (dx != nullptr) global_max_pool_backward(x, y, dy, dx, batch, spatial(), channels());
}

std::unique_ptr<Layer> GlobalMaxPooling2D::from_config(const nlohmann::json& config) {
  return std::make_unique<GlobalMaxPooling2D>(options_from_config(config, "GlobalMaxPooling2D"));
}

}  // namespace keel
