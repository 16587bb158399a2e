// Functional models for the deployment and checkpoint tests (BN folding, ONNX export, resume), the
// shapes of tools/golden/functional_keras.py's models, and helpers to make them non-trivial.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/layers/layers.h"
#include "keel/model/model.h"
#include "model/functional_models.h"

namespace keel::graph_test {

// functional_keras.py residual_mlp_bn: two blocks Dense -> BN -> elu -> Dense -> BN, then Add.
inline Model residual_mlp_bn(int64_t in = 784, int64_t width = 128) {
  KerasTensor x = Input({in});
  KerasTensor h = Dense(width)(x);
  for (int block = 0; block < 2; ++block) {
    KerasTensor b = Activation("elu")(BatchNormalization()(Dense(width)(h)));
    b = BatchNormalization()(Dense(width)(b));
    h = Add()({h, b});
  }
  return Model(x, Dense(10, {.activation = "softmax"})(h));
}

// functional_keras.py two_input_concat (one definition, in model/functional_models.h).
using testing::two_input_concat;

// Every merge layer (three-input Add and Average), a shared layer called twice, two outputs (one
// of them also read inside the graph).
inline Model merge_zoo_shared() {
  KerasTensor a = Input({8}), b = Input({8});
  auto shared = keel::shared(Dense(8, {.activation = "tanh"}));
  KerasTensor d1 = (*shared)(a), d2 = (*shared)(b), d3 = Dense(8)(a);
  KerasTensor s = Subtract()({d1, d2});
  KerasTensor c = Concatenate()({Add()({d1, d2, d3}), s, Multiply()({d1, d2}),
                                 Average()({d1, d2, d3}), Maximum()({d1, d3}), Minimum()({d2, d3})});
  return Model({a, b}, {Dense(3, {.activation = "softmax"})(c), s});
}

// Rank-3 inputs: Dense on the last axis (MatMul + Add in ONNX), Concatenate along axis 1 (not the
// last), then Flatten.
inline Model sequence_concat() {
  KerasTensor a = Input({3, 4}), b = Input({2, 4});
  KerasTensor c = Concatenate({.axis = 1})({Dense(5, {.activation = "relu"})(a), Dense(5)(b)});
  return Model({a, b}, {Dense(2)(Flatten()(c))});
}

// Moving statistics, gamma and beta away from their initial values (as after training), so that a
// wrong fold shows in the predictions.
inline void randomize_batch_norm(Model& m, uint64_t seed) {
  Rng rng(seed);
  for (Variable* v : m.variables()) {
    const bool bn = v->name.find("batch_normalization") != std::string::npos;
    if (!bn) continue;
    const bool positive = v->name.find("variance") != std::string::npos ||
                          v->name.find("gamma") != std::string::npos;
    for (int64_t i = 0; i < v->size(); ++i)
      v->value[i] = positive ? 0.3f + 1.5f * rng.uniform() : float(rng.normal() * 0.5);
  }
}

inline Tensor random_normal(std::vector<int64_t> dims, uint64_t seed) {
  Tensor t(std::move(dims));
  Rng rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = float(rng.normal());
  return t;
}

// Inference outputs of a multi-input model, one tensor per output.
inline std::vector<Tensor> predict_all(Model& m, const std::vector<Tensor>& xs) {
  std::vector<const float*> ptrs;
  for (const Tensor& x : xs) ptrs.push_back(x.data());
  const int64_t batch = xs.front().dim(0);
  m.forward(std::span<const float* const>(ptrs), batch, Mode::kInference);
  std::vector<Tensor> out;
  for (int64_t i = 0; i < m.num_outputs(); ++i) {
    std::vector<int64_t> dims = m.tensors()[size_t(m.output_tensors()[size_t(i)])].shape.dims();
    dims[0] = batch;
    Tensor y(dims);
    std::copy(m.output(i), m.output(i) + y.size(), y.data());
    out.push_back(std::move(y));
  }
  return out;
}

// max |a - b| / max(1, |a|).
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (int64_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(a[i]))));
  return m;
}

}  // namespace keel::graph_test
