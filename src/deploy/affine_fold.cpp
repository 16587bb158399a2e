// BN folding rules per layer class (affine_fold.h).
#include "affine_fold.h"

#include <algorithm>
#include <cmath>
#include <typeindex>
#include <utility>
#include <unordered_map>

#include "keel/layers/batch_normalization.h"
#include "keel/layers/conv2d.h"
#include "keel/layers/dense.h"

namespace keel::fold {

void fold_into_previous(LinearWeights& w, const Affine& a) {
  for (int64_t r = 0; r < w.fan_in; ++r)
    for (int64_t c = 0; c < w.units; ++c) w.kernel[size_t(r * w.units + c)] *= a.s[size_t(c)];
  for (int64_t c = 0; c < w.units; ++c)
    w.bias[size_t(c)] = w.bias[size_t(c)] * a.s[size_t(c)] + a.t[size_t(c)];
}

void fold_into_next(LinearWeights& w, const Affine& a) {
  for (int64_t r = 0; r < w.fan_in; ++r) {
    const auto channel = size_t(r % w.in_channels);
    for (int64_t c = 0; c < w.units; ++c) {
      const double k = w.kernel[size_t(r * w.units + c)];
      w.bias[size_t(c)] += a.t[channel] * k;
      w.kernel[size_t(r * w.units + c)] = a.s[channel] * k;
    }
  }
}

namespace {

// ---- BatchNormalization: s = gamma / sqrt(moving_variance + epsilon), t = beta - mean·s ----

std::string bn_cannot_fold(const Layer& layer) {
  const auto& bn = static_cast<const BatchNormalization&>(layer);
  if (bn.axis() == bn.input_shape().rank() - 1) return "";
  return "normalizes axis " + std::to_string(bn.axis()) +
         ", not the last axis a Dense or Conv2D works on";
}

Affine bn_affine(const Layer& layer) {
  const auto& bn = static_cast<const BatchNormalization&>(layer);
  const Variable* gamma = bn.find_variable("gamma");  // absent with scale=False
  const Variable* beta = bn.find_variable("beta");    // absent with center=False
  const Variable* mean = bn.find_variable("moving_mean");
  const Variable* var = bn.find_variable("moving_variance");
  const int64_t c = mean->size();
  // The epsilon inference uses: tf.keras's fused 4-D path raises it to at least 1.001e-5.
  const double epsilon = bn.fused() ? std::max(bn.options().epsilon, 1.001e-5) : bn.options().epsilon;
  Affine a;
  a.s.resize(static_cast<size_t>(c));
  a.t.resize(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) {
    const double g = gamma ? gamma->value[j] : 1.0;
    const double b = beta ? beta->value[j] : 0.0;
    const double s = g / std::sqrt(static_cast<double>(var->value[j]) + epsilon);
    a.s[size_t(j)] = s;
    a.t[size_t(j)] = b - static_cast<double>(mean->value[j]) * s;
  }
  return a;
}

// ---- Dense ----

std::string dense_activation(const Layer& layer) {
  return static_cast<const Dense&>(layer).activation().keras_name();
}

std::string absorbs_any_input(const Layer&) { return ""; }

// A Dense kernel (fan_in, units) or a Conv2D kernel (kh, kw, c_in, c_out), both row-major: the last
// axis is the output unit, the one before it the input channel.
LinearWeights kernel_load(const Layer& layer) {
  const Variable* kernel = layer.find_variable("kernel");
  const Variable* bias = layer.find_variable("bias");
  LinearWeights w;
  w.units = kernel->shape.back();
  w.fan_in = kernel->size() / w.units;
  w.in_channels = kernel->shape[kernel->shape.size() - 2];
  w.kernel.assign(kernel->value, kernel->value + kernel->size());
  w.bias.assign(static_cast<size_t>(w.units), 0.0);
  if (bias) w.bias.assign(bias->value, bias->value + bias->size());
  return w;
}

std::unique_ptr<Layer> dense_with_bias(const Layer& layer) {
  nlohmann::json config = layer.get_config();
  config["use_bias"] = true;
  return Dense::from_config(config);
}

// ---- Conv2D ----

std::string conv_activation(const Layer& layer) {
  return static_cast<const Conv2D&>(layer).activation().keras_name();
}

std::string conv_cannot_absorb_input(const Layer& layer) {
  const auto& conv = static_cast<const Conv2D&>(layer);
  if (conv.same_padding() && (conv.kernel_size().h > 1 || conv.kernel_size().w > 1))
    return "its 'same' zero padding would not see the BN shift at the borders";
  if (conv.options().groups > 1) return "it is a grouped convolution";
  return "";
}

std::unique_ptr<Layer> conv_with_bias(const Layer& layer) {
  nlohmann::json config = layer.get_config();
  config["use_bias"] = true;
  return Conv2D::from_config(config);
}

void kernel_store(const LinearWeights& w, Layer& layer) {
  const std::pair<const char*, const std::vector<double>*> parts[] = {{"kernel", &w.kernel},
                                                                       {"bias", &w.bias}};
  for (const auto& [short_name, src] : parts) {
    const Variable* v = layer.find_variable(short_name);
    for (int64_t k = 0; k < v->size(); ++k) v->value[k] = static_cast<float>((*src)[size_t(k)]);
  }
}

// Keyed by exact class: a subclass of Dense may compute something else and needs its own entry.
template <class Entry>
const Entry* lookup(const std::unordered_map<std::type_index, Entry>& table, const Layer& layer) {
  const auto it = table.find(std::type_index(typeid(layer)));
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace

const AffineSource* affine_source(const Layer& layer) {
  static const std::unordered_map<std::type_index, AffineSource> table = {
      {typeid(BatchNormalization), {bn_cannot_fold, bn_affine}}};
  return lookup(table, layer);
}

const AffineSink* affine_sink(const Layer& layer) {
  static const std::unordered_map<std::type_index, AffineSink> table = {
      {typeid(Dense), {dense_activation, absorbs_any_input, kernel_load, dense_with_bias, kernel_store}},
      {typeid(Conv2D), {conv_activation, conv_cannot_absorb_input, kernel_load, conv_with_bias, kernel_store}}};
  return lookup(table, layer);
}

}  // namespace keel::fold
