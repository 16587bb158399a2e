#include "keel/layers/conv2d.h"

#include "conv_core.h"
#include "keel/core/error.h"
#include "layer_config.h"
#include "spatial_config.h"

namespace keel {

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options)
    : UnaryLayer("conv2d", options.name, options.input_shape),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(options)),
      core_(std::make_unique<ConvCore>()) {
  KEEL_CHECK(filters > 0, "layer '", name(), "' (Conv2D): filters ", filters,
             " must be a positive integer");
  same_ = check_conv_args(kernel_size_, options_.strides, options_.dilation_rate, options_.padding,
                          options_.data_format, name(), "Conv2D");
  KEEL_CHECK(options_.groups >= 1 && filters % options_.groups == 0, "layer '", name(),
             "' (Conv2D): the number of filters must be evenly divisible by the number of groups; "
             "got groups=", options_.groups, ", filters=", filters);
  set_trainable(options_.trainable);
}

Conv2D::Conv2D(const Conv2D& other)
    : UnaryLayer(other),
      filters_(other.filters_),
      kernel_size_(other.kernel_size_),
      options_(other.options_),
      same_(other.same_),
      core_(std::make_unique<ConvCore>(*other.core_)) {}

Conv2D::~Conv2D() = default;

Conv2dGeometry Conv2D::geometry(const Shape& in) const {
  const Conv2dGeometry g = conv_geometry(in, kernel_size_, options_.strides, options_.dilation_rate,
                                         same_, filters_, options_.groups, name(), "Conv2D");
  KEEL_CHECK(in[3] % options_.groups == 0, "layer '", name(), "' (Conv2D): input channels ",
             in[3], " must be evenly divisible by groups=", options_.groups);
  return g;
}

Shape Conv2D::compute_output_shape(const Shape& in) const {
  const Conv2dGeometry g = geometry(in);
  return Shape{in[0], g.out_h, g.out_w, g.out_c};
}

void Conv2D::on_build() { core_->configure(geometry(input_shape()), options_.activation.kind()); }

std::vector<VariableSpec> Conv2D::variable_specs() const {
  const auto& g = core_->geometry();
  std::vector<VariableSpec> specs;
  specs.push_back({"kernel", {g.kernel_h, g.kernel_w, g.in_c / g.groups, filters_}, true,
                   options_.kernel_initializer});
  if (options_.use_bias) specs.push_back({"bias", {filters_}, true, options_.bias_initializer});
  return specs;
}

void Conv2D::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  core_->forward(x, variables()[0].value, options_.use_bias ? variables()[1].value : nullptr, y,
                 batch, runs_bf16_products(), relu_after());
}

void Conv2D::unary_backward(const float* x, const float* y, const float* dy, float* dx,
                            int64_t batch, Write write) {
  core_->backward(x, y, dy, variables()[0].value, dx, variables()[0].grad,
                  options_.use_bias ? variables()[1].grad : nullptr, batch, write,
                  runs_bf16_products(), relu_after());
}

bool Conv2D::outputs_softmax() const {
  return options_.activation.kind() == ActivationKind::kSoftmax;
}

const float* Conv2D::logits() const { return outputs_softmax() ? core_->logits() : nullptr; }

void Conv2D::unary_backward_from_logits(const float* x, const float* dlogits, float* dx,
                                        int64_t batch, Write write) {
  KEEL_CHECK(outputs_softmax(), "layer '", name(), "' (Conv2D): backward_from_logits needs a "
             "softmax activation");
  core_->backward_from_logits(x, dlogits, variables()[0].value, dx, variables()[0].grad,
                              options_.use_bias ? variables()[1].grad : nullptr, batch, write,
                  runs_bf16_products());
}

nlohmann::json Conv2D::get_config() const {
  nlohmann::json config = base_config();
  config["filters"] = filters_;
  config["kernel_size"] = spatial_config::to_json(kernel_size_);
  config["strides"] = spatial_config::to_json(options_.strides);
  config["padding"] = same_ ? "same" : "valid";
  config["data_format"] = "channels_last";
  config["dilation_rate"] = spatial_config::to_json(options_.dilation_rate);
  config["groups"] = options_.groups;
  config["activation"] = options_.activation.keras_name();
  config["use_bias"] = options_.use_bias;
  config["kernel_initializer"] = options_.kernel_initializer.to_config();
  config["bias_initializer"] = options_.bias_initializer.to_config();
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                          "kernel_constraint", "bias_constraint"}) {
    config[key] = nullptr;
  }
  return config;
}

std::unique_ptr<Layer> Conv2D::from_config(const nlohmann::json& config) {
  constexpr const char* kCls = "Conv2D";
  auto base = layer_config::parse_base(
      config, kCls,
      {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
       "activation", "use_bias", "kernel_initializer", "bias_initializer"},
      {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
       "bias_constraint"});
  KEEL_CHECK(config.contains("filters") && config.contains("kernel_size"), kCls,
             ": config needs 'filters' and 'kernel_size'");
  Conv2DOptions options;
  options.strides = spatial_config::get_size2(config, kCls, "strides", 1);
  options.padding = layer_config::get_string(config, kCls, "padding", "valid");
  options.data_format = layer_config::get_string(config, kCls, "data_format", "channels_last");
  options.dilation_rate = spatial_config::get_size2(config, kCls, "dilation_rate", 1);
  options.groups = layer_config::get_int(config, kCls, "groups", 1);
  options.activation = ActivationFunction(layer_config::get_string(config, kCls, "activation", "linear"));
  options.use_bias = layer_config::get_bool(config, kCls, "use_bias", true);
  if (config.contains("kernel_initializer")) {
    options.kernel_initializer = Initializer::from_config(config["kernel_initializer"]);
  }
  if (config.contains("bias_initializer")) {
    options.bias_initializer = Initializer::from_config(config["bias_initializer"]);
  }
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<Conv2D>(layer_config::get_int(config, kCls, "filters", 0),
                                  spatial_config::get_size2(config, kCls, "kernel_size", 1),
                                  std::move(options));
}

}  // namespace keel
