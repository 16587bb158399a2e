#include "keel/layers/fixup_layers.h"

#include "keel/kernels/scalar_affine.h"
#include "layer_config.h"

namespace keel {

FixupScalarLayer::FixupScalarLayer(Learns learns, std::string_view default_prefix,
                                   FixupScalarOptions options)
    : UnaryLayer(default_prefix, std::move(options.name), std::move(options.input_shape)),
      learns_(learns) {
  set_trainable(options.trainable);
}

std::vector<VariableSpec> FixupScalarLayer::variable_specs() const {
  if (learns_ == Learns::kShift) return {{"bias", {1}, true, "zeros"}};
  return {{"scale", {1}, true, "ones"}};
}

void FixupScalarLayer::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const float v = *variables().front().value;
  const int64_t n = batch * input_shape().sample_size();
  if (learns_ == Learns::kShift) {
    scalar_affine_forward(x, y, n, 1.0f, v);
  } else {
    scalar_affine_forward(x, y, n, v, 0.0f);
  }
}

void FixupScalarLayer::unary_backward(const float* x, const float*, const float* dy, float* dx,
                                      int64_t batch, Write write) {
  const Variable& var = variables().front();
  const int64_t n = batch * input_shape().sample_size();
  const bool shift = learns_ == Learns::kShift;
  double dvar = 0.0;
  double* want = var.trainable ? &dvar : nullptr;
  scalar_affine_backward(x, dy, dx, n, shift ? 1.0f : *var.value, shift ? nullptr : want,
                         shift ? want : nullptr);
  if (want == nullptr) return;
  const auto g = static_cast<float>(dvar);
  *var.grad = write == Write::kSet ? g : *var.grad + g;
}

FixupScalarOptions FixupScalarLayer::options_from_config(const nlohmann::json& config,
                                                         std::string_view class_name) {
  auto base = layer_config::parse_base(config, class_name, {});
  return {std::move(base.input_shape), std::move(base.name), base.trainable};
}

FixupBias::FixupBias(FixupScalarOptions options)
    : FixupScalarLayer(Learns::kShift, "fixup_bias", std::move(options)) {}

std::unique_ptr<Layer> FixupBias::from_config(const nlohmann::json& config) {
  return std::make_unique<FixupBias>(options_from_config(config, "FixupBias"));
}

FixupScale::FixupScale(FixupScalarOptions options)
    : FixupScalarLayer(Learns::kScale, "fixup_scale", std::move(options)) {}

std::unique_ptr<Layer> FixupScale::from_config(const nlohmann::json& config) {
  return std::make_unique<FixupScale>(options_from_config(config, "FixupScale"));
}

}  // namespace keel
