#include "keel/layers/recurrent.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/gemm.h"
#include "layer_config.h"

namespace keel {

namespace {

constexpr uint64_t kDefaultRecurrentSeed = 0x6b65656c524e4e73ull;  // "keelRNNs"
std::atomic<uint64_t> g_recurrent_count{0};

Rng make_rng(const std::optional<int64_t>& seed) {
  if (seed) return Rng(static_cast<uint64_t>(*seed));
  return Rng(kDefaultRecurrentSeed, g_recurrent_count.fetch_add(1));
}

}  // namespace

Recurrent::Recurrent(std::string_view layer_prefix, std::string_view cell_prefix, int64_t units,
                     RecurrentOptions options, int64_t gates, int64_t states)
    : Layer(layer_prefix, options.name, options.input_shape),
      units_(units),
      options_(std::move(options)),
      gates_(gates),
      states_(states),
      layer_prefix_(layer_prefix),
      cell_prefix_(cell_prefix),
      rng_(make_rng(options_.seed)) {
  const std::string who = "layer '" + name() + "'";
  KEEL_CHECK(units > 0, who, ": units ", units, " must be a positive integer");
  KEEL_CHECK(options_.dropout >= 0.0 && options_.dropout < 1.0, who, ": dropout ",
             options_.dropout, " must be in [0, 1)");
  KEEL_CHECK(options_.recurrent_dropout >= 0.0 && options_.recurrent_dropout < 1.0, who,
             ": recurrent_dropout ", options_.recurrent_dropout, " must be in [0, 1)");
  KEEL_CHECK(options_.implementation == 1 || options_.implementation == 2, who,
             ": implementation ", options_.implementation, " is not 1 or 2");
  // Keras (K2 lstm.py, gru.py): "RNN `implementation=2` is not supported when
  // `recurrent_dropout` is set. Using `implementation=1`."
  if (options_.recurrent_dropout > 0.0) options_.implementation = 1;
  KEEL_CHECK(!options_.stateful, who,
             ": stateful=True is not supported yet; every batch starts from zero states");
  options_.activation = check_gate_activation(options_.activation, name(), "activation");
  options_.recurrent_activation =
      check_gate_activation(options_.recurrent_activation, name(), "recurrent_activation");
  set_trainable(options_.trainable);
}

ActivationFunction Recurrent::check_gate_activation(const ActivationFunction& f,
                                                    const std::string& layer, const char* key) {
  KEEL_CHECK(f.kind() != ActivationKind::kSoftmax, "layer '", layer, "': ", key,
             " 'softmax' is not elementwise and cannot be a recurrent activation");
  return f;
}

std::vector<Shape> Recurrent::compute_output_shapes(std::span<const Shape> input_shapes) const {
  const Shape& in = input_shapes.front();
  KEEL_CHECK(in.rank() == 3 && in[1] > 0 && in[2] > 0, "layer '", name(), "' (", class_name(),
             "): input shape ", in.to_string(),
             " must be (None, timesteps, features) with both known");
  std::vector<Shape> out;
  out.push_back(options_.return_sequences ? Shape({-1, in[1], units_}) : Shape({-1, units_}));
  if (options_.return_state) {
    for (int64_t s = 0; s < states_; ++s) out.push_back(Shape({-1, units_}));
  }
  return out;
}

void Recurrent::on_build() {
  timesteps_ = input_shape()[1];
  features_ = input_shape()[2];
  if (cell_name_.empty()) cell_name_ = derive_cell_name();
}

std::optional<int64_t> Recurrent::default_name_number() const {
  const std::string& layer = name();
  if (layer == layer_prefix_) return 0;
  const std::string numbered = layer_prefix_ + "_";
  if (!layer.starts_with(numbered) || layer.size() == numbered.size() ||
      layer.size() > numbered.size() + 9) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = numbered.size(); i < layer.size(); ++i) {
    if (layer[i] < '0' || layer[i] > '9') return std::nullopt;
    n = 10 * n + (layer[i] - '0');
  }
  return n;
}

std::string Recurrent::derive_cell_name() const {
  // Keras counts cells over the process ("lstm_cell", "lstm_cell_1", ...) next to the layers
  // ("lstm", "lstm_1", ...), so in a model built in a fresh process a default-named layer's cell
  // carries the layer's own number. keel derives it from the layer name, so the same model
  // gets the same variable names whenever it is built or loaded (checkpoints, saved models). A
  // layer named by the user takes the next process-wide cell name, as in Keras.
  if (const auto n = default_name_number()) {
    return *n == 0 ? cell_prefix_ : cell_prefix_ + "_" + std::to_string(*n);
  }
  return unique_layer_name(cell_prefix_);
}

std::unique_ptr<Recurrent> Recurrent::recreate(std::string name, std::string cell,
                                               bool go_backwards) const {
  std::unique_ptr<Layer> copy = clone();
  auto* r = static_cast<Recurrent*>(copy.get());  // clone() of a Recurrent is one
  r->rename(name);
  r->options_.name = std::move(name);
  r->options_.go_backwards = go_backwards;
  r->cell_name_ = std::move(cell);
  r->rng_ = make_rng(options_.seed);
  copy.release();
  return std::unique_ptr<Recurrent>(r);
}

void Recurrent::replay_dropout_masks(std::vector<float> input, std::vector<float> recurrent) {
  replay_input_ = std::move(input);
  replay_recurrent_ = std::move(recurrent);
}

bool Recurrent::meets_keras_fused_conditions() const {
  const RecurrentOptions& o = options_;
  return o.activation.kind() == ActivationKind::kTanh &&
         o.recurrent_activation.kind() == ActivationKind::kSigmoid && o.recurrent_dropout == 0.0 &&
         !o.unroll && o.use_bias;
}

void Recurrent::sample_dropout_masks(int64_t batch) {
  const int64_t T = timesteps_, F = features_, G = gate_width();
  if (options_.dropout > 0.0) {
    // Fused path: one mask over the whole input, i.e. a fresh one per timestep (time-major rows).
    const bool fused = on_keras_fused_path();
    const int64_t n = fused ? 1 : input_mask_count();
    input_masks_.sample(rng_, options_.dropout, fused ? T * batch : batch, F, n, G / n,
                        kernel().value);
    if (!replay_input_.empty()) {
      const int64_t want = fused ? batch * T * F : n * batch * F;
      KEEL_CHECK(static_cast<int64_t>(replay_input_.size()) == want, "layer '", name(),
                 "': replayed input dropout masks have ", replay_input_.size(),
                 " values; this batch needs ", want);
      for (int64_t g = 0; g < n; ++g) {
        float* m = input_masks_.mutable_mask(g);
        if (!fused) {
          std::copy_n(replay_input_.data() + g * batch * F, batch * F, m);
          continue;
        }
        for (int64_t t = 0; t < T; ++t) {  // Keras (batch, T, F), original time order
          const int64_t src_t = options_.go_backwards ? T - 1 - t : t;
          for (int64_t b = 0; b < batch; ++b) {
            std::copy_n(replay_input_.data() + (b * T + src_t) * F, F, m + (t * batch + b) * F);
          }
        }
      }
    }
  } else {
    input_masks_.deactivate();
  }
  if (options_.recurrent_dropout > 0.0) {
    recurrent_masks_.sample(rng_, options_.recurrent_dropout, batch, units_, gates_, units_,
                            recurrent_kernel().value);
    if (!replay_recurrent_.empty()) {
      KEEL_CHECK(static_cast<int64_t>(replay_recurrent_.size()) == gates_ * batch * units_,
                 "layer '", name(), "': replayed recurrent dropout masks have ",
                 replay_recurrent_.size(), " values; this batch needs ", gates_ * batch * units_);
      std::copy(replay_recurrent_.begin(), replay_recurrent_.end(),
                recurrent_masks_.mutable_mask(0));
    }
  } else {
    recurrent_masks_.deactivate();
  }
}

VariableSpec Recurrent::bias_spec() const {
  return {"bias", {gate_width()}, true, options_.bias_initializer};
}

std::vector<VariableSpec> Recurrent::variable_specs() const {
  std::vector<VariableSpec> specs;
  specs.push_back({cell_name_ + "/kernel", {features_, gate_width()}, true,
                   options_.kernel_initializer});
  specs.push_back({cell_name_ + "/recurrent_kernel", {units_, gate_width()}, true,
                   options_.recurrent_initializer});
  if (options_.use_bias) {
    VariableSpec bias = bias_spec();
    bias.short_name = cell_name_ + "/" + bias.short_name;
    specs.push_back(std::move(bias));
  }
  return specs;
}

void Recurrent::forward(const Context& ctx, std::span<const TensorRef> x,
                        std::span<const TensorRef> y) {
  const int64_t batch = x[0].batch();
  const int64_t T = timesteps_, F = features_, G = gate_width();
  const float* in = x[0].f32();
  float* xs = xs_.ensure(T * batch * F);
  xp_.ensure(T * batch * G);
  h_.ensure((T + 1) * batch * units_);
  ensure_cell_buffers(batch);

  if (ctx.mode == Mode::kTraining) {
    sample_dropout_masks(batch);
  } else {
    input_masks_.deactivate();
    recurrent_masks_.deactivate();
  }
  // Time-major copy in processing order.
  for (int64_t t = 0; t < T; ++t) {
    const int64_t src_t = options_.go_backwards ? T - 1 - t : t;
    for (int64_t b = 0; b < batch; ++b) {
      std::memcpy(xs + (t * batch + b) * F, in + (b * T + src_t) * F,
                  static_cast<size_t>(F) * sizeof(float));
    }
  }
  // The input projection of every timestep at once, then its bias (GRU: the input row).
  if (input_masks_.active()) {
    input_masks_.forward(xs, T * batch, 0, input_masks_.gates(), xp_.data(), G, false);
  } else {
    gemm(xs, kernel().value, xp_.data(), T * batch, G, F, false, false, false);
  }
  if (options_.use_bias) {
    const float* b0 = bias()->value;
    for (int64_t r = 0; r < T * batch; ++r) {
      float* row = xp_.data() + r * G;
      for (int64_t j = 0; j < G; ++j) row[j] += b0[j];
    }
  }
  std::fill_n(h(0, batch), batch * units_, 0.0f);
  for (int64_t t = 0; t < T; ++t) step_forward(t, batch, ctx.mode);

  // Outputs: the sequence (batch, T, units) in processing order, or the last h; then the states.
  float* out = y[0].f32();
  if (options_.return_sequences) {
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(out + (b * T + t) * units_, h(t + 1, batch) + b * units_,
                    static_cast<size_t>(units_) * sizeof(float));
      }
    }
  } else {
    std::memcpy(out, h(T, batch), static_cast<size_t>(batch * units_) * sizeof(float));
  }
  if (options_.return_state) {
    std::memcpy(y[1].f32(), h(T, batch), static_cast<size_t>(batch * units_) * sizeof(float));
    for (int64_t s = 1; s < states_; ++s) {
      std::memcpy(y[static_cast<size_t>(s + 1)].f32(), final_extra_state(s, batch),
                  static_cast<size_t>(batch * units_) * sizeof(float));
    }
  }
}

const float* Recurrent::final_extra_state(int64_t, int64_t) const {
  KEEL_FAIL("layer '", name(), "' has no state beyond h");
}

void Recurrent::seed_extra_state_gradient(int64_t, const float*, int64_t) {
  KEEL_FAIL("layer '", name(), "' has no state beyond h");
}

void Recurrent::backward(const Context&, std::span<const TensorRef> x, std::span<const TensorRef>,
                         std::span<const TensorRef> dy, std::span<const TensorRef> dx,
                         Write write) {
  const int64_t batch = x[0].batch();
  const int64_t T = timesteps_, F = features_, G = gate_width();
  dxp_.ensure(T * batch * G);
  float* dh_t = dh_.ensure(batch * units_);
  std::fill_n(dh_t, batch * units_, 0.0f);
  // Gradients arriving at the final states (return_state).
  if (options_.return_state) {
    if (const float* d = dy[1].f32()) {
      for (int64_t i = 0; i < batch * units_; ++i) dh_t[i] += d[i];
    }
    for (int64_t s = 1; s < states_; ++s) {
      seed_extra_state_gradient(s, dy[static_cast<size_t>(s + 1)].f32(), batch);
    }
  } else {
    for (int64_t s = 1; s < states_; ++s) seed_extra_state_gradient(s, nullptr, batch);
  }
  const float* dout = dy[0].f32();
  for (int64_t t = T - 1; t >= 0; --t) {
    if (dout != nullptr && options_.return_sequences) {
      for (int64_t b = 0; b < batch; ++b) {
        const float* d = dout + (b * T + t) * units_;
        float* row = dh_t + b * units_;
        for (int64_t j = 0; j < units_; ++j) row[j] += d[j];
      }
    } else if (dout != nullptr && t == T - 1) {
      for (int64_t i = 0; i < batch * units_; ++i) dh_t[i] += dout[i];
    }
    step_backward(t, batch);
  }

  // Every timestep at once: the kernel's gradient, the recurrent ones, the input's.
  const Variable& k = kernel();
  const int64_t n = input_masks_.gates();
  if (k.grad != nullptr) {
    if (input_masks_.active()) {
      input_masks_.backward_weights(xs_.data(), dxp_.data(), G, T * batch, 0, n, k.grad, G,
                                    write == Write::kAdd);
    } else {
      gemm(xs_.data(), dxp_.data(), k.grad, F, G, T * batch, true, false, write == Write::kAdd);
    }
  }
  if (recurrent_kernel().grad != nullptr) recurrent_parameter_gradients(batch, write);
  float* dx0 = dx.empty() ? nullptr : static_cast<float*>(dx[0].data);
  if (dx0 == nullptr) return;
  float* dxs = dxs_.ensure(T * batch * F);
  if (input_masks_.active()) {
    input_masks_.backward_operand(dxp_.data(), G, T * batch, 0, n, dxs, false);
  } else {
    gemm(dxp_.data(), k.value, dxs, T * batch, F, G, false, true, false);
  }
  for (int64_t t = 0; t < T; ++t) {
    const int64_t src_t = options_.go_backwards ? T - 1 - t : t;
    for (int64_t b = 0; b < batch; ++b) {
      std::memcpy(dx0 + (b * T + src_t) * F, dxs + (t * batch + b) * F,
                  static_cast<size_t>(F) * sizeof(float));
    }
  }
}

void Recurrent::recurrent_product(int64_t t, int64_t batch, float* out, bool accumulate) {
  const int64_t G = gate_width();
  if (GateMasks* m = recurrent_masks()) {
    m->forward(h(t, batch), batch, 0, gates_, out, G, accumulate);
  } else {
    gemm(h(t, batch), recurrent_kernel().value, out, batch, G, units_, false, false, accumulate);
  }
}

void Recurrent::recurrent_product_backward(const float* d, int64_t batch, float* dh,
                                           bool accumulate) {
  const int64_t G = gate_width();
  if (GateMasks* m = recurrent_masks()) {
    m->backward_operand(d, G, batch, 0, gates_, dh, accumulate);
  } else {
    gemm(d, recurrent_kernel().value, dh, batch, units_, G, false, true, accumulate);
  }
}

void Recurrent::sum_dxp_columns(float* out, int64_t batch, Write write) const {
  const int64_t G = gate_width();
  if (write == Write::kSet) std::fill_n(out, G, 0.0f);
  for (int64_t r = 0; r < timesteps_ * batch; ++r) {
    const float* row = dxp_.data() + r * G;
    for (int64_t j = 0; j < G; ++j) out[j] += row[j];
  }
}

void Recurrent::recurrent_kernel_gradient(const float* d, int64_t batch, Write write) {
  // h(0 .. T-1) are the h_{t-1} of steps 0 .. T-1: contiguous (T·batch, units).
  const int64_t G = gate_width();
  if (GateMasks* m = recurrent_masks()) {
    m->backward_weights(h_.data(), d, G, timesteps_ * batch, 0, gates_, recurrent_kernel().grad,
                        G, write == Write::kAdd);
  } else {
    gemm(h_.data(), d, recurrent_kernel().grad, units_, G, timesteps_ * batch, true, false,
         write == Write::kAdd);
  }
}

std::vector<LayerState> Recurrent::save_state() const {
  if (options_.dropout == 0.0 && options_.recurrent_dropout == 0.0) return {};
  const Rng::State& s = rng_.state();
  return {{"rng", std::vector<uint64_t>(s.begin(), s.end())}};
}

void Recurrent::load_state(std::span<const LayerState> state) {
  if (options_.dropout == 0.0 && options_.recurrent_dropout == 0.0) return;
  KEEL_CHECK(state.size() == 1 && state[0].key == "rng" && state[0].words.size() == 4, "layer '",
             name(), "' (", class_name(), "): load_state expects one 'rng' entry of 4 words");
  rng_.set_state({state[0].words[0], state[0].words[1], state[0].words[2], state[0].words[3]});
}

nlohmann::json Recurrent::get_config() const {
  // Keras's key order: the base keys, the sequence flags, then units and the cell's arguments.
  nlohmann::json config = base_config();
  config["return_sequences"] = options_.return_sequences;
  config["return_state"] = options_.return_state;
  config["go_backwards"] = options_.go_backwards;
  config["stateful"] = options_.stateful;
  config["unroll"] = options_.unroll;
  config["time_major"] = false;
  config["units"] = units_;
  config["activation"] = options_.activation.keras_name();
  add_config(config);
  config["use_bias"] = options_.use_bias;
  config["kernel_initializer"] = options_.kernel_initializer.to_config();
  config["recurrent_initializer"] = options_.recurrent_initializer.to_config();
  config["bias_initializer"] = options_.bias_initializer.to_config();
  for (const char* key : {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                          "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                          "bias_constraint"}) {
    config[key] = nullptr;
  }
  config["dropout"] = options_.dropout;
  config["recurrent_dropout"] = options_.recurrent_dropout;
  return config;
}

RecurrentOptions Recurrent::options_from_config(const nlohmann::json& config,
                                                std::string_view class_name, bool gated,
                                                std::initializer_list<std::string_view> extra_keys) {
  namespace lc = layer_config;
  // The class-specific keys are read by the caller; parse_base checks the rest.
  nlohmann::json shared = config;
  for (std::string_view key : extra_keys) shared.erase(std::string(key));
  if (gated) {
    shared.erase("recurrent_activation");
    shared.erase("implementation");
  }
  auto base = lc::parse_base(
      shared, class_name,
      {"units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
       "bias_initializer", "dropout", "recurrent_dropout", "return_sequences", "return_state",
       "go_backwards", "stateful", "unroll", "time_major", "zero_output_for_mask", "seed"},
      {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
       "kernel_constraint", "recurrent_constraint", "bias_constraint"});
  KEEL_CHECK(config.contains("units"), class_name, ": config has no 'units'");
  KEEL_CHECK(!lc::get_bool(config, class_name, "time_major", false), class_name,
             ": time_major=True is not supported; inputs are (batch, timesteps, features)");
  RecurrentOptions o;
  o.activation = ActivationFunction(lc::get_string(config, class_name, "activation", "tanh"));
  o.use_bias = lc::get_bool(config, class_name, "use_bias", true);
  if (gated) {
    o.recurrent_activation =
        ActivationFunction(lc::get_string(config, class_name, "recurrent_activation", "sigmoid"));
    // 1 and 2 are the same math without dropout; with it, 1 has a mask per gate.
    o.implementation = lc::get_int(config, class_name, "implementation", 2);
  }
  for (auto [key, target] : {std::pair{"kernel_initializer", &o.kernel_initializer},
                             std::pair{"recurrent_initializer", &o.recurrent_initializer},
                             std::pair{"bias_initializer", &o.bias_initializer}}) {
    if (config.contains(key)) *target = Initializer::from_config(config[key]);
  }
  o.dropout = lc::get_number(config, class_name, "dropout", 0.0);
  o.recurrent_dropout = lc::get_number(config, class_name, "recurrent_dropout", 0.0);
  o.return_sequences = lc::get_bool(config, class_name, "return_sequences", false);
  o.return_state = lc::get_bool(config, class_name, "return_state", false);
  o.go_backwards = lc::get_bool(config, class_name, "go_backwards", false);
  o.stateful = lc::get_bool(config, class_name, "stateful", false);
  o.unroll = lc::get_bool(config, class_name, "unroll", false);
  if (config.contains("seed") && !config["seed"].is_null()) {
    o.seed = lc::get_int(config, class_name, "seed", 0);
  }
  o.input_shape = std::move(base.input_shape);
  o.name = std::move(base.name);
  o.trainable = base.trainable;
  return o;
}

}  // namespace keel
