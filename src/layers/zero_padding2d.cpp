#include "keel/layers/zero_padding2d.h"

#include "keel/core/error.h"
#include "keel/kernels/pool.h"
#include "layer_config.h"
#include "spatial_config.h"

namespace keel {

ZeroPadding2D::ZeroPadding2D(ZeroPadding2DOptions options)
    : UnaryLayer("zero_padding2d", options.name, options.input_shape), options_(std::move(options)) {
  spatial_config::check_data_format(options_.data_format, name(), "ZeroPadding2D");
  for (const Size2& p : options_.padding) {
    KEEL_CHECK(p.h >= 0 && p.w >= 0, "layer '", name(), "' (ZeroPadding2D): padding ((", top(),
               ", ", bottom(), "), (", left(), ", ", right(), ")) must be non-negative");
  }
  set_trainable(options_.trainable);
}

ZeroPadding2DOptions ZeroPadding2D::symmetric(int64_t height, int64_t width) {
  ZeroPadding2DOptions options;
  options.padding = {Size2{height, height}, Size2{width, width}};
  return options;
}

Shape ZeroPadding2D::compute_output_shape(const Shape& in) const {
  KEEL_CHECK(in.rank() == 4, "layer '", name(), "' (ZeroPadding2D): input shape ", in.to_string(),
             " is not supported; expected (None, height, width, channels)");
  return Shape{in[0], in[1] + top() + bottom(), in[2] + left() + right(), in[3]};
}

void ZeroPadding2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const Shape& in = input_shape();
  zero_pad2d_forward(x, y, batch, in[1], in[2], in[3], top(), bottom(), left(), right());
}

void ZeroPadding2D::unary_backward(const float*, const float*, const float* dy, float* dx,
                                   int64_t batch, Write) {
  if (dx == nullptr) return;
  const Shape& in = input_shape();
  zero_pad2d_backward(dy, dx, batch, in[1], in[2], in[3], top(), bottom(), left(), right());
}

nlohmann::json ZeroPadding2D::get_config() const {
  nlohmann::json config = base_config();
  config["padding"] = nlohmann::json::array({spatial_config::to_json(options_.padding[0]),
                                             spatial_config::to_json(options_.padding[1])});
  config["data_format"] = "channels_last";
  return config;
}

std::unique_ptr<Layer> ZeroPadding2D::from_config(const nlohmann::json& config) {
  constexpr const char* kCls = "ZeroPadding2D";
  auto base = layer_config::parse_base(config, kCls, {"padding", "data_format"});
  ZeroPadding2DOptions options;
  if (config.contains("padding")) {
    const auto& p = config["padding"];
    auto ints = [](const nlohmann::json& v) {
      return v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer();
    };
    if (p.is_number_integer()) {
      options = symmetric(p.get<int64_t>(), p.get<int64_t>());
    } else if (ints(p)) {
      options = symmetric(p[0].get<int64_t>(), p[1].get<int64_t>());
    } else {
      KEEL_CHECK(p.is_array() && p.size() == 2 && ints(p[0]) && ints(p[1]), kCls,
                 ": 'padding' must be an int, (a, b) or ((top, bottom), (left, right)), got ",
                 p.dump());
      options.padding = {Size2{p[0][0].get<int64_t>(), p[0][1].get<int64_t>()},
                         Size2{p[1][0].get<int64_t>(), p[1][1].get<int64_t>()}};
    }
  }
  options.data_format = layer_config::get_string(config, kCls, "data_format", "channels_last");
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<ZeroPadding2D>(std::move(options));
}

}  // namespace keel
