#include "keel/layers/depthwise_conv2d.h"

#include "conv_core.h"
#include "keel/core/error.h"
#include "layer_config.h"
#include "spatial_config.h"

namespace keel {

DepthwiseConv2D::DepthwiseConv2D(Size2 kernel_size, DepthwiseConv2DOptions options)
    : UnaryLayer("depthwise_conv2d", options.name, options.input_shape),
      kernel_size_(kernel_size),
      options_(std::move(options)),
      core_(std::make_unique<ConvCore>()) {
  same_ = check_conv_args(kernel_size_, options_.strides, options_.dilation_rate, options_.padding,
                          options_.data_format, name(), "DepthwiseConv2D");
  KEEL_CHECK(options_.depth_multiplier >= 1, "layer '", name(), "' (DepthwiseConv2D): ",
             "depth_multiplier ", options_.depth_multiplier, " must be a positive integer");
  set_trainable(options_.trainable);
}

DepthwiseConv2D::DepthwiseConv2D(const DepthwiseConv2D& other)
    : UnaryLayer(other),
      kernel_size_(other.kernel_size_),
      options_(other.options_),
      same_(other.same_),
      core_(std::make_unique<ConvCore>(*other.core_)) {}

DepthwiseConv2D::~DepthwiseConv2D() = default;

Conv2dGeometry DepthwiseConv2D::geometry(const Shape& in) const {
  // Output channel c·depth_multiplier + q: a grouped convolution with one group per channel.
  const int64_t channels = in.rank() == 4 ? in[3] : 1;
  return conv_geometry(in, kernel_size_, options_.strides, options_.dilation_rate, same_,
                       channels * options_.depth_multiplier, channels, name(), "DepthwiseConv2D");
}

Shape DepthwiseConv2D::compute_output_shape(const Shape& in) const {
  const Conv2dGeometry g = geometry(in);
  return Shape{in[0], g.out_h, g.out_w, g.out_c};
}

void DepthwiseConv2D::on_build() {
  core_->configure(geometry(input_shape()), options_.activation.kind());
}

std::vector<VariableSpec> DepthwiseConv2D::variable_specs() const {
  const auto& g = core_->geometry();
  std::vector<VariableSpec> specs;
  specs.push_back({"depthwise_kernel",
                   {g.kernel_h, g.kernel_w, g.in_c, options_.depth_multiplier},
                   true,
                   options_.depthwise_initializer});
  if (options_.use_bias) specs.push_back({"bias", {g.out_c}, true, options_.bias_initializer});
  return specs;
}

void DepthwiseConv2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  core_->forward(x, variables()[0].value, options_.use_bias ? variables()[1].value : nullptr, y,
                 batch, runs_bf16_products(), relu_after());
}

void DepthwiseConv2D::unary_backward(const float* x, const float* y, const float* dy, float* dx,
                                     int64_t batch, Write write) {
  core_->backward(x, y, dy, variables()[0].value, dx, variables()[0].grad,
                  options_.use_bias ? variables()[1].grad : nullptr, batch, write,
                  runs_bf16_products(), relu_after());
}

nlohmann::json DepthwiseConv2D::get_config() const {
  nlohmann::json config = base_config();
  config["kernel_size"] = spatial_config::to_json(kernel_size_);
  config["strides"] = spatial_config::to_json(options_.strides);
  config["padding"] = same_ ? "same" : "valid";
  config["data_format"] = "channels_last";
  config["dilation_rate"] = spatial_config::to_json(options_.dilation_rate);
  config["groups"] = 1;
  config["activation"] = options_.activation.keras_name();
  config["use_bias"] = options_.use_bias;
  config["bias_initializer"] = options_.bias_initializer.to_config();
  config["bias_regularizer"] = nullptr;
  config["activity_regularizer"] = nullptr;
  config["bias_constraint"] = nullptr;
  config["depth_multiplier"] = options_.depth_multiplier;
  config["depthwise_initializer"] = options_.depthwise_initializer.to_config();
  config["depthwise_regularizer"] = nullptr;
  config["depthwise_constraint"] = nullptr;
  return config;
}

std::unique_ptr<Layer> DepthwiseConv2D::from_config(const nlohmann::json& config) {
  constexpr const char* kCls = "DepthwiseConv2D";
  auto base = layer_config::parse_base(
      config, kCls,
      {"kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
       "activation", "use_bias", "bias_initializer", "depth_multiplier", "depthwise_initializer"},
      {"bias_regularizer", "activity_regularizer", "bias_constraint", "depthwise_regularizer",
       "depthwise_constraint"});
  KEEL_CHECK(config.contains("kernel_size"), kCls, ": config needs 'kernel_size'");
  KEEL_CHECK(layer_config::get_int(config, kCls, "groups", 1) == 1, kCls, ": groups ",
             config["groups"].dump(), " is not supported; expected 1");
  DepthwiseConv2DOptions options;
  options.strides = spatial_config::get_size2(config, kCls, "strides", 1);
  options.padding = layer_config::get_string(config, kCls, "padding", "valid");
  options.depth_multiplier = layer_config::get_int(config, kCls, "depth_multiplier", 1);
  options.data_format = layer_config::get_string(config, kCls, "data_format", "channels_last");
  options.dilation_rate = spatial_config::get_size2(config, kCls, "dilation_rate", 1);
  options.activation = ActivationFunction(layer_config::get_string(config, kCls, "activation", "linear"));
  options.use_bias = layer_config::get_bool(config, kCls, "use_bias", true);
  if (config.contains("depthwise_initializer")) {
    options.depthwise_initializer = Initializer::from_config(config["depthwise_initializer"]);
  }
  if (config.contains("bias_initializer")) {
    options.bias_initializer = Initializer::from_config(config["bias_initializer"]);
  }
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<DepthwiseConv2D>(spatial_config::get_size2(config, kCls, "kernel_size", 1),
                                           std::move(options));
}

}  // namespace keel
