// Test helper: builds one layer standalone (what Sequential normally does), binds its variables
// to owned buffers ("<layer>/<short>:0"), initialises them, and runs forward/backward on vectors.
// Also a finite-difference gradient check over every input element and trainable parameter.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/core/rng.h"
#include "keel/layers/dropout.h"
#include "keel/layers/layer.h"

namespace keel::testing {

class LayerHarness {
 public:
  LayerHarness(std::unique_ptr<Layer> layer, const Shape& input_shape, uint64_t seed = 1)
      : layer_(std::move(layer)) {
    layer_->build(input_shape);
    Rng rng(seed);
    const auto specs = layer_->variable_specs();
    values_.resize(specs.size());
    grads_.resize(specs.size());
    std::vector<Variable> vars;
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& spec = specs[i];
      Variable v;
      v.name = layer_->name() + "/" + spec.short_name + ":0";
      v.shape = spec.shape;
      v.trainable = spec.trainable && layer_->trainable();
      values_[i].assign(static_cast<size_t>(v.size()), 0.0f);
      initialize_variable(spec, values_[i], rng);
      v.value = values_[i].data();
      if (v.trainable) {
        grads_[i].assign(static_cast<size_t>(v.size()), 0.0f);
        v.grad = grads_[i].data();
      }
      vars.push_back(std::move(v));
    }
    layer_->bind_variables(std::move(vars));
  }

  Layer& layer() { return *layer_; }
  template <typename L>
  L& as() { return dynamic_cast<L&>(*layer_); }

  Variable& var(const std::string& short_name) {
    for (auto& v : layer_->variables()) {
      if (v.name == layer_->name() + "/" + short_name + ":0") return v;
    }
    ADD_FAILURE() << "no variable " << short_name;
    return layer_->variables().front();
  }
  std::vector<float> value(const std::string& short_name) {
    Variable& v = var(short_name);
    return {v.value, v.value + v.size()};
  }
  std::vector<float> grad(const std::string& short_name) {
    Variable& v = var(short_name);
    return {v.grad, v.grad + v.size()};
  }
  void zero_grads() {
    for (auto& g : grads_) std::fill(g.begin(), g.end(), 0.0f);
  }

  int64_t in_size(int64_t batch) const { return batch * layer_->input_shape().sample_size(); }
  int64_t out_size(int64_t batch) const { return batch * layer_->output_shape().sample_size(); }

  std::vector<float> forward(const std::vector<float>& x, int64_t batch, Mode mode) {
    EXPECT_EQ(static_cast<int64_t>(x.size()), in_size(batch));
    std::vector<float> y(static_cast<size_t>(out_size(batch)), NAN);
    const TensorRef xr = view(x.data(), layer_->input_shape(), batch);
    const TensorRef yr = view(y.data(), layer_->output_shape(), batch);
    layer_->forward(Context{mode}, {&xr, 1}, {&yr, 1});
    return y;
  }
  // Backward through the layer contract; parameter gradients are added (Write::kAdd) unless
  // told to set them. With `dy_wrt_logits` dy is w.r.t. a softmax layer's logits.
  std::vector<float> backward(const std::vector<float>& x, const std::vector<float>& y,
                              const std::vector<float>& dy, int64_t batch,
                              Write write = Write::kAdd, bool dy_wrt_logits = false) {
    std::vector<float> dx(static_cast<size_t>(in_size(batch)), NAN);
    const TensorRef xr = view(x.data(), layer_->input_shape(), batch);
    const TensorRef yr = view(y.data(), layer_->output_shape(), batch);
    const TensorRef dyr = view(dy.data(), layer_->output_shape(), batch);
    const TensorRef dxr = view(dx.data(), layer_->input_shape(), batch);
    Context ctx{Mode::kTraining};
    ctx.dy_wrt_logits = dy_wrt_logits;
    layer_->backward(ctx, {&xr, 1}, {&yr, 1}, {&dyr, 1}, {&dxr, 1}, write);
    return dx;
  }
  static TensorRef view(const float* data, const Shape& shape, int64_t batch) {
    return TensorRef{const_cast<float*>(data), DType::kF32, Dims(shape, batch)};
  }

 private:
  std::unique_ptr<Layer> layer_;
  std::vector<std::vector<float>> values_, grads_;
};

inline std::vector<float> random_vector(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed, 99);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * rng.uniform_double());
  return v;
}

// Finite-difference check of backward for L = Σ w·y (w random, so dL/dy = w), in training mode:
// every input element and every trainable parameter, central differences with step h on the float
// layer, loss accumulated in double. Also checks that backward ADDS into parameter gradients (a
// second backward doubles them). The layer's state (save_state: a dropout generator's) is
// restored before every forward, so all forwards draw the same masks.
inline void check_gradients(LayerHarness& h, std::vector<float> x, int64_t batch, double step = 1e-2,
                            double tol = 2e-3) {
  Layer& layer = h.layer();
  const std::vector<LayerState> state = layer.save_state();
  auto run = [&](const std::vector<float>& input) {
    layer.load_state(state);
    return h.forward(input, batch, Mode::kTraining);
  };
  const std::vector<float> w = random_vector(h.out_size(batch), 1234);
  auto loss = [&](const std::vector<float>& input) {
    const auto y = run(input);
    double l = 0.0;
    for (size_t i = 0; i < y.size(); ++i) l += static_cast<double>(w[i]) * y[i];
    return l;
  };
  auto close = [&](double analytic, double numeric) {
    return std::fabs(analytic - numeric) <= tol * std::max(1.0, std::fabs(numeric));
  };

  h.zero_grads();
  const auto y = run(x);
  const auto dx = h.backward(x, y, w, batch);
  std::vector<std::vector<float>> grads_once;
  for (auto& v : layer.variables()) grads_once.emplace_back(v.grad ? std::vector<float>(v.grad, v.grad + v.size()) : std::vector<float>{});
  // Backward must add: a second call (same forward) doubles every parameter gradient.
  const auto y2 = run(x);
  h.backward(x, y2, w, batch);
  for (size_t vi = 0; vi < layer.variables().size(); ++vi) {
    const Variable& v = layer.variables()[vi];
    if (!v.grad) continue;
    for (int64_t i = 0; i < v.size(); ++i) {
      EXPECT_NEAR(v.grad[i], 2.0f * grads_once[vi][size_t(i)], 1e-5 * std::max(1.0f, std::fabs(v.grad[i])))
          << v.name << "[" << i << "] backward did not accumulate";
    }
  }
  // Write::kSet overwrites: after the doubled gradients, one set-mode backward gives them once.
  const auto y3 = run(x);
  h.backward(x, y3, w, batch, Write::kSet);
  for (size_t vi = 0; vi < layer.variables().size(); ++vi) {
    const Variable& v = layer.variables()[vi];
    if (!v.grad) continue;
    for (int64_t i = 0; i < v.size(); ++i) {
      EXPECT_NEAR(v.grad[i], grads_once[vi][size_t(i)], 1e-5 * std::max(1.0f, std::fabs(v.grad[i])))
          << v.name << "[" << i << "] Write::kSet did not overwrite";
    }
  }

  for (size_t i = 0; i < x.size(); ++i) {
    const float orig = x[i];
    x[i] = orig + static_cast<float>(step);
    const double lp = loss(x);
    x[i] = orig - static_cast<float>(step);
    const double lm = loss(x);
    x[i] = orig;
    const double numeric = (lp - lm) / (2.0 * step);
    EXPECT_TRUE(close(dx[i], numeric)) << layer.name() << " dx[" << i << "] analytic " << dx[i]
                                       << " numeric " << numeric;
  }
  for (size_t vi = 0; vi < layer.variables().size(); ++vi) {
    Variable& v = layer.variables()[vi];
    if (!v.grad) continue;
    for (int64_t i = 0; i < v.size(); ++i) {
      const float orig = v.value[i];
      v.value[i] = orig + static_cast<float>(step);
      const double lp = loss(x);
      v.value[i] = orig - static_cast<float>(step);
      const double lm = loss(x);
      v.value[i] = orig;
      const double numeric = (lp - lm) / (2.0 * step);
      EXPECT_TRUE(close(grads_once[vi][size_t(i)], numeric))
          << v.name << "[" << i << "] analytic " << grads_once[vi][size_t(i)] << " numeric " << numeric;
    }
  }
}

}  // namespace keel::testing
