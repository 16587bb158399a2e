// BN folding (keel/deploy/fold_batch_norm.h, derivation in docs/bn_folding.md).
//
// The folded model is rebuilt from the Keras config of the original (BN entries removed, folded
// Dense layers given use_bias=true), so it is an ordinary Sequential with the original layer names;
// then every surviving variable is copied and the folded Dense weights are written from double
// working copies.
#include "keel/deploy/fold_batch_norm.h"

#include <cmath>
#include <map>
#include <set>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/layers/batch_normalization.h"
#include "keel/layers/dense.h"

namespace keel {

namespace {

// The view of `layer`'s variable "<layer>/<short>:0", or nullptr.
const Variable* find_variable(const Layer& layer, const std::string& short_name) {
  const std::string full = layer.name() + "/" + short_name + ":0";
  for (const Variable& v : layer.variables())
    if (v.name == full) return &v;
  return nullptr;
}

// A Dense layer's kernel (fan_in, units) and bias (units) in double, modified in place.
struct DenseWork {
  int64_t fan_in = 0, units = 0;
  std::vector<double> kernel, bias;
  bool had_bias = false;
};

DenseWork load_dense(const Dense& dense) {
  DenseWork w;
  const Variable* kernel = find_variable(dense, "kernel");
  const Variable* bias = find_variable(dense, "bias");
  w.fan_in = kernel->shape[0];
  w.units = kernel->shape[1];
  w.kernel.assign(kernel->value, kernel->value + kernel->size());
  w.had_bias = bias != nullptr;
  w.bias.assign(static_cast<size_t>(w.units), 0.0);
  if (bias) w.bias.assign(bias->value, bias->value + bias->size());
  return w;
}

// Inference BN as y = s·x + t per channel, in double.
struct Affine {
  std::vector<double> s, t;
};

Affine bn_affine(const BatchNormalization& bn) {
  const Variable* gamma = find_variable(bn, "gamma");
  const Variable* beta = find_variable(bn, "beta");
  const Variable* mean = find_variable(bn, "moving_mean");
  const Variable* var = find_variable(bn, "moving_variance");
  const int64_t c = mean->size();
  Affine a;
  a.s.resize(static_cast<size_t>(c));
  a.t.resize(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) {
    const double g = gamma ? gamma->value[j] : 1.0;
    const double b = beta ? beta->value[j] : 0.0;
    const double s = g / std::sqrt(static_cast<double>(var->value[j]) + bn.options().epsilon);
    a.s[size_t(j)] = s;
    a.t[size_t(j)] = b - static_cast<double>(mean->value[j]) * s;
  }
  return a;
}

// Dense then BN: z = x·W + b; y = s·z + t  =>  W' = W·diag(s), b' = s·b + t.
void fold_into_previous(DenseWork& w, const Affine& a) {
  for (int64_t r = 0; r < w.fan_in; ++r)
    for (int64_t c = 0; c < w.units; ++c) w.kernel[size_t(r * w.units + c)] *= a.s[size_t(c)];
  for (int64_t c = 0; c < w.units; ++c)
    w.bias[size_t(c)] = w.bias[size_t(c)] * a.s[size_t(c)] + a.t[size_t(c)];
}

// BN then Dense: y = (s·x + t)·W + b  =>  W' = diag(s)·W, b' = b + t·W.
void fold_into_next(DenseWork& w, const Affine& a) {
  for (int64_t r = 0; r < w.fan_in; ++r) {
    for (int64_t c = 0; c < w.units; ++c) {
      const double k = w.kernel[size_t(r * w.units + c)];
      w.bias[size_t(c)] += a.t[size_t(r)] * k;
      w.kernel[size_t(r * w.units + c)] = a.s[size_t(r)] * k;
    }
  }
}

std::string describe(const Layer& layer) {
  return layer.class_name() + " '" + layer.name() + "'";
}

}  // namespace

std::string FoldResult::report() const {
  std::string out;
  for (const BnFold& f : folded) {
    out += "folded " + f.bn_layer + " into " + f.dense_layer +
           (f.into_previous ? " (the Dense before it: kernel columns scaled, bias shifted)\n"
                            : " (the Dense after it: kernel rows scaled, bias shifted)\n");
  }
  for (const BnKept& k : kept) out += "kept   " + k.bn_layer + ": " + k.reason + "\n";
  if (folded.empty() && kept.empty()) out += "no BatchNormalization layers\n";
  return out;
}

FoldResult fold_batch_norm(const Model& model) {
  KEEL_CHECK(model.built(), "fold_batch_norm: model '", model.name(), "' is not built");
  const int64_t n = model.num_layers();
  std::map<int64_t, DenseWork> work;  // layer index -> folded Dense weights
  std::set<int64_t> removed;
  std::vector<BnFold> folded;
  std::vector<BnKept> kept;
  auto work_for = [&](int64_t i) -> DenseWork& {
    auto it = work.find(i);
    if (it == work.end()) it = work.emplace(i, load_dense(static_cast<const Dense&>(model.layer(i)))).first;
    return it->second;
  };

  for (int64_t i = 0; i < n; ++i) {
    const auto* bn = dynamic_cast<const BatchNormalization*>(&model.layer(i));
    if (!bn) continue;
    const int64_t rank = bn->input_shape().rank();
    if (bn->axis() != rank - 1) {
      kept.push_back({bn->name(), "normalizes axis " + std::to_string(bn->axis()) +
                                      ", not the last axis a Dense works on"});
      continue;
    }
    const Layer* prev = i > 0 ? &model.layer(i - 1) : nullptr;
    const Layer* next = i + 1 < n ? &model.layer(i + 1) : nullptr;
    const auto* prev_dense = dynamic_cast<const Dense*>(prev);
    const auto* next_dense = dynamic_cast<const Dense*>(next);
    if (prev_dense && prev_dense->activation().kind() == ActivationKind::kLinear) {
      fold_into_previous(work_for(i - 1), bn_affine(*bn));
      folded.push_back({bn->name(), prev_dense->name(), true});
      removed.insert(i);
    } else if (next_dense) {
      fold_into_next(work_for(i + 1), bn_affine(*bn));
      folded.push_back({bn->name(), next_dense->name(), false});
      removed.insert(i);
    } else {
      std::string reason = prev_dense ? "preceded by " + describe(*prev) + " whose activation is " +
                                            prev_dense->activation().keras_name() + ", not linear"
                         : prev ? "preceded by " + describe(*prev) + ", not a Dense"
                                : "first layer";
      reason += next ? ", and followed by " + describe(*next) + ", not a Dense"
                     : ", and the last layer (no Dense after it)";
      kept.push_back({bn->name(), reason});
    }
  }

  // Rebuild from the config: entry k + 1 of "layers" is layer k (entry 0 is the InputLayer).
  nlohmann::json config = model_to_config(model);
  nlohmann::json& layers = config["config"]["layers"];
  nlohmann::json new_layers = nlohmann::json::array({layers[0]});
  for (int64_t i = 0; i < n; ++i) {
    if (removed.count(i)) continue;
    nlohmann::json entry = layers[size_t(i + 1)];
    if (work.count(i)) entry["config"]["use_bias"] = true;
    // A removed first layer may have carried batch_input_shape; the InputLayer has it anyway.
    new_layers.push_back(std::move(entry));
  }
  layers = std::move(new_layers);
  Model folded_model = model_from_config(config, "fold_batch_norm('" + model.name() + "')");

  std::map<std::string, const Layer*> originals;
  for (int64_t i = 0; i < n; ++i) originals[model.layer(i).name()] = &model.layer(i);
  std::map<std::string, const DenseWork*> works;
  for (const auto& [i, w] : work) works[model.layer(i).name()] = &w;
  for (int64_t i = 0; i < folded_model.num_layers(); ++i) {
    Layer& layer = folded_model.layer(i);
    const auto w = works.find(layer.name());
    for (Variable& v : layer.variables()) {
      const std::string short_name = v.name.substr(layer.name().size() + 1, v.name.size() -
                                                   layer.name().size() - 3);
      if (w != works.end()) {
        const std::vector<double>& src = short_name == "kernel" ? w->second->kernel : w->second->bias;
        for (int64_t k = 0; k < v.size(); ++k) v.value[k] = static_cast<float>(src[size_t(k)]);
      } else {
        const Variable* old = find_variable(*originals.at(layer.name()), short_name);
        std::copy(old->value, old->value + old->size(), v.value);
      }
    }
  }
  return {std::move(folded_model), std::move(folded), std::move(kept)};
}

}  // namespace keel
