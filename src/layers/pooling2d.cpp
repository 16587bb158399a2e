#include "keel/layers/pooling2d.h"

#include "keel/core/error.h"
#include "keel/kernels/conv.h"
#include "layer_config.h"
#include "spatial_config.h"

namespace keel {

Pooling2D::Pooling2D(std::string_view prefix, std::string_view cls, Pooling2DOptions options)
    : UnaryLayer(prefix, options.name, options.input_shape), options_(std::move(options)) {
  spatial_config::check_positive(options_.pool_size, "pool_size", name(), cls);
  spatial_config::check_positive(strides(), "strides", name(), cls);
  spatial_config::check_data_format(options_.data_format, name(), cls);
  same_ = spatial_config::parse_padding(options_.padding, name(), cls);
  set_trainable(options_.trainable);
}

Shape Pooling2D::compute_output_shape(const Shape& in) const {
  KEEL_CHECK(in.rank() == 4, "layer '", name(), "' (", class_name(), "): input shape ",
             in.to_string(), " is not supported; expected (None, height, width, channels)");
  const Size2 s = strides();
  const int64_t h = conv_output_length(in[1], options_.pool_size.h, same_, s.h, 1);
  const int64_t w = conv_output_length(in[2], options_.pool_size.w, same_, s.w, 1);
  KEEL_CHECK(h > 0 && w > 0, "layer '", name(), "' (", class_name(), "): input shape ",
             in.to_string(), " is smaller than the pool with padding 'valid'");
  return Shape{in[0], h, w, in[3]};
}

void Pooling2D::on_build() {
  const Shape& in = input_shape();
  const Size2 s = strides();
  const auto h = conv_axis(in[1], options_.pool_size.h, same_, s.h, 1);
  const auto w = conv_axis(in[2], options_.pool_size.w, same_, s.w, 1);
  g_ = Pool2dGeometry{0, in[1], in[2], in[3], h.out, w.out, options_.pool_size.h,
                      options_.pool_size.w, s.h, s.w, h.pad.before, w.pad.before};
}

nlohmann::json Pooling2D::get_config() const {
  nlohmann::json config = base_config();
  config["pool_size"] = spatial_config::to_json(options_.pool_size);
  config["padding"] = same_ ? "same" : "valid";
  config["strides"] = spatial_config::to_json(strides());
  config["data_format"] = "channels_last";
  return config;
}

Pooling2DOptions Pooling2D::options_from_config(const nlohmann::json& config, std::string_view cls) {
  auto base = layer_config::parse_base(config, cls, {"pool_size", "padding", "strides", "data_format"});
  Pooling2DOptions options;
  options.pool_size = spatial_config::get_size2(config, cls, "pool_size", 2);
  if (config.contains("strides") && !config["strides"].is_null()) {
    options.strides = spatial_config::get_size2(config, cls, "strides", 1);
  }
  options.padding = layer_config::get_string(config, cls, "padding", "valid");
  options.data_format = layer_config::get_string(config, cls, "data_format", "channels_last");
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return options;
}

MaxPooling2D::MaxPooling2D(Pooling2DOptions options)
    : Pooling2D("max_pooling2d", "MaxPooling2D", std::move(options)) {}

void MaxPooling2D::unary_forward(const float* x, float* y, int64_t batch, Mode mode) {
  const Pool2dGeometry g = at(batch);
  argmax_x_ = nullptr;
  if (mode != Mode::kTraining || !max_pool2d_records_argmax(g)) return max_pool2d_forward(g, x, y);
  const auto n = static_cast<size_t>(batch * output_shape().sample_size());
  if (argmax_.size() < n) argmax_.resize(n);  // grows once per batch size, then reused
  max_pool2d_forward(g, x, y, argmax_.data());
  argmax_x_ = x, argmax_batch_ = batch;
}

void MaxPooling2D::unary_backward(const float* x, const float*, const float* dy, float* dx,
                                  int64_t batch, Write) {
  if (dx == nullptr) return;
  const bool recorded = argmax_x_ == x && argmax_batch_ == batch;
  max_pool2d_backward(at(batch), x, dy, dx, recorded ? argmax_.data() : nullptr);
}

const Pool2dGeometry* MaxPooling2D::fusable_max_pool() const {
  return built() && max_pool2d_records_argmax(geometry()) ? &geometry() : nullptr;
}

std::unique_ptr<Layer> MaxPooling2D::from_config(const nlohmann::json& config) {
  return std::make_unique<MaxPooling2D>(options_from_config(config, "MaxPooling2D"));
}

AveragePooling2D::AveragePooling2D(Pooling2DOptions options)
    : Pooling2D("average_pooling2d", "AveragePooling2D", std::move(options)) {}

void AveragePooling2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  avg_pool2d_forward(at(batch), x, y);
}

void AveragePooling2D::unary_backward(const float*, const float*, const float* dy, float* dx,
                                      int64_t batch, Write) {
  if (dx != nullptr) avg_pool2d_backward(at(batch), dy, dx);
}

std::unique_ptr<Layer> AveragePooling2D::from_config(const nlohmann::json& config) {
  return std::make_unique<AveragePooling2D>(options_from_config(config, "AveragePooling2D"));
}

}  // namespace keel
