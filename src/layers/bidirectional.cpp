#include "keel/layers/bidirectional.h"

#include <cstring>

#include "keel/core/error.h"
#include "keel/layers/gru.h"
#include "keel/layers/lstm.h"
#include "keel/layers/simple_rnn.h"
#include "layer_config.h"

namespace keel {

namespace {

std::vector<int64_t> declared_shape(const Recurrent& layer, const BidirectionalOptions& o) {
  return o.input_shape.empty() ? layer.declared_input_shape() : o.input_shape;
}

}  // namespace

Bidirectional::Bidirectional(std::unique_ptr<Recurrent> layer, BidirectionalOptions options)
    : Layer("bidirectional", options.name, declared_shape(*layer, options)),
      layer_(std::move(layer)),
      options_(std::move(options)) {
  if (!options_.merge_mode) {
    merge_ = Merge::kNone;
  } else if (*options_.merge_mode == "concat") {
    merge_ = Merge::kConcat;
  } else if (*options_.merge_mode == "sum") {
    merge_ = Merge::kSum;
  } else if (*options_.merge_mode == "mul") {
    merge_ = Merge::kMul;
  } else if (*options_.merge_mode == "ave") {
    merge_ = Merge::kAve;
  } else {
    KEEL_FAIL("layer '", name(), "' (Bidirectional): merge_mode '", *options_.merge_mode,
              "' is not one of \"sum\", \"mul\", \"ave\", \"concat\" or None");
  }
  set_trainable(options_.trainable.value_or(layer_->trainable()));
}

Bidirectional::Bidirectional(const Bidirectional& other)
    : Layer(other),
      options_(other.options_),
      merge_(other.merge_) {
  auto copy = [](const std::unique_ptr<Recurrent>& r) {
    if (!r) return std::unique_ptr<Recurrent>();
    return std::unique_ptr<Recurrent>(static_cast<Recurrent*>(r->clone().release()));
  };
  layer_ = copy(other.layer_);
  forward_ = copy(other.forward_);
  backward_ = copy(other.backward_);
}

void Bidirectional::on_named() {
  // Keras names the wrapped layer when it is made, before the wrapper.
  layer_->ensure_name();
}

size_t Bidirectional::first_state(bool backward) const {
  return (merge_ == Merge::kNone ? 2 : 1) + static_cast<size_t>(backward ? states_ : 0);
}

std::vector<Shape> Bidirectional::compute_output_shapes(std::span<const Shape> input_shapes) const {
  const std::vector<Shape> one = layer_->compute_output_shapes(input_shapes);
  std::vector<Shape> out;
  if (merge_ == Merge::kNone) {
    out = {one[0], one[0]};
  } else {
    std::vector<int64_t> dims = one[0].dims();
    if (merge_ == Merge::kConcat) dims.back() *= 2;
    out.emplace_back(dims);
  }
  for (int direction = 0; direction < 2; ++direction)
    out.insert(out.end(), one.begin() + 1, one.end());
  return out;
}

void Bidirectional::on_build() {
  layer_->ensure_name();
  const std::string& inner = layer_->name();
  // Keras's cells: the wrapped layer's, then the forward and backward copies' (see the header).
  std::string forward_cell, backward_cell;
  if (const auto n = layer_->default_name_number()) {
    forward_cell = layer_->cell_prefix() + "_" + std::to_string(3 * *n + 1);
    backward_cell = layer_->cell_prefix() + "_" + std::to_string(3 * *n + 2);
  } else {
    forward_cell = unique_layer_name(layer_->cell_prefix());
    backward_cell = unique_layer_name(layer_->cell_prefix());
  }
  const bool backwards = layer_->options().go_backwards;
  forward_ = layer_->recreate("forward_" + inner, forward_cell, backwards);
  backward_ = layer_->recreate("backward_" + inner, backward_cell, !backwards);
  forward_->build(input_shapes());
  backward_->build(input_shapes());
  states_ = static_cast<int64_t>(forward_->output_shapes().size()) - 1;
}

std::vector<VariableSpec> Bidirectional::variable_specs() const {
  std::vector<VariableSpec> specs;
  for (const Recurrent* direction : {forward_.get(), backward_.get()}) {
    for (VariableSpec spec : direction->variable_specs()) {
      spec.short_name = direction->name() + "/" + spec.short_name;
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

void Bidirectional::on_bind_variables() {
  const std::vector<Variable>& all = variables();
  const auto n = static_cast<std::ptrdiff_t>(forward_->variable_specs().size());
  KEEL_CHECK(static_cast<std::ptrdiff_t>(all.size()) == 2 * n, "layer '", name(),
             "' (Bidirectional): bound ", all.size(), " variables, expected ", 2 * n);
  forward_->bind_variables({all.begin(), all.begin() + n});
  backward_->bind_variables({all.begin() + n, all.end()});
}

Bidirectional::DirectionTensors Bidirectional::direction_outputs(bool backward,
                                                                 std::span<const TensorRef> y,
                                                                 int64_t batch) {
  const Shape& shape = (backward ? backward_ : forward_)->output_shape();
  DirectionTensors out;
  // The output: the no-merge forward output is written in place; the other outputs go to scratch
  // (the backward one is reversed in time before anything reads it).
  if (!backward && merge_ == Merge::kNone) {
    out.refs[out.count++] = y[0];
  } else {
    ScratchBuffer& buffer = backward ? backward_out_ : forward_out_;
    out.refs[out.count++] = {buffer.ensure(batch * shape.sample_size()), DType::kF32, Dims(shape, batch)};
  }
  for (int64_t s = 0; s < states_; ++s) out.refs[out.count++] = y[first_state(backward) + size_t(s)];
  return out;
}

void Bidirectional::forward(const Context& ctx, std::span<const TensorRef> x,
                            std::span<const TensorRef> y) {
  const int64_t batch = x[0].batch();
  const DirectionTensors fy = direction_outputs(false, y, batch);
  const DirectionTensors by = direction_outputs(true, y, batch);
  forward_->forward(ctx, x, fy.span());
  backward_->forward(ctx, x, by.span());

  // Time steps of the output (1 without return_sequences), and the backward output at the
  // forward's step t: its step T-1-t (Keras reverses the backward sequence).
  const bool sequences = layer_->options().return_sequences;
  const int64_t T = sequences ? input_shape()[1] : 1;
  const int64_t u = layer_->units();
  const float* f = fy.refs[0].f32();
  const float* b = by.refs[0].f32();
  float* out = y[0].f32();
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t t = 0; t < T; ++t) {
      const float* fr = f + (n * T + t) * u;
      const float* br = b + (n * T + (T - 1 - t)) * u;
      switch (merge_) {
        case Merge::kNone:
          std::memcpy(y[1].f32() + (n * T + t) * u, br, static_cast<size_t>(u) * sizeof(float));
          break;
        case Merge::kConcat: {
          float* o = out + (n * T + t) * 2 * u;
          std::memcpy(o, fr, static_cast<size_t>(u) * sizeof(float));
          std::memcpy(o + u, br, static_cast<size_t>(u) * sizeof(float));
          break;
        }
        case Merge::kSum:
          for (int64_t j = 0; j < u; ++j) out[(n * T + t) * u + j] = fr[j] + br[j];
          break;
        case Merge::kMul:
          for (int64_t j = 0; j < u; ++j) out[(n * T + t) * u + j] = fr[j] * br[j];
          break;
        case Merge::kAve:
          for (int64_t j = 0; j < u; ++j) out[(n * T + t) * u + j] = (fr[j] + br[j]) / 2.0f;
          break;
      }
    }
  }
}

void Bidirectional::backward(const Context& ctx, std::span<const TensorRef> x,
                             std::span<const TensorRef> y, std::span<const TensorRef> dy,
                             std::span<const TensorRef> dx, Write write) {
  const int64_t batch = x[0].batch();
  const DirectionTensors fy = direction_outputs(false, y, batch);
  const DirectionTensors by = direction_outputs(true, y, batch);
  const bool sequences = layer_->options().return_sequences;
  const int64_t T = sequences ? input_shape()[1] : 1;
  const int64_t u = layer_->units();
  const int64_t size = batch * T * u;

  // The gradients at each direction's output, from the merged output's (or the two outputs').
  const float* dout = dy[0].f32();
  const float* dout_b = merge_ == Merge::kNone ? dy[1].f32() : dout;
  float* df = nullptr;
  float* db = nullptr;
  if (merge_ == Merge::kNone) {
    df = dy[0].f32();  // may be null: that output feeds nothing
  } else if (dout != nullptr) {
    df = d_forward_.ensure(size);
  }
  if (dout_b != nullptr) db = d_backward_.ensure(size);
  const float* f = fy.refs[0].f32();
  const float* b = by.refs[0].f32();
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t ft = (n * T + t) * u, bt = (n * T + (T - 1 - t)) * u;
      switch (merge_) {
        case Merge::kNone:
          if (db != nullptr) std::memcpy(db + bt, dout_b + ft, static_cast<size_t>(u) * sizeof(float));
          break;
        case Merge::kConcat:
          if (dout == nullptr) break;
          std::memcpy(df + ft, dout + 2 * ft, static_cast<size_t>(u) * sizeof(float));
          std::memcpy(db + bt, dout + 2 * ft + u, static_cast<size_t>(u) * sizeof(float));
          break;
        case Merge::kSum:
          if (dout == nullptr) break;
          std::memcpy(df + ft, dout + ft, static_cast<size_t>(u) * sizeof(float));
          std::memcpy(db + bt, dout + ft, static_cast<size_t>(u) * sizeof(float));
          break;
        case Merge::kMul:
          if (dout == nullptr) break;
          for (int64_t j = 0; j < u; ++j) {
            df[ft + j] = dout[ft + j] * b[bt + j];
            db[bt + j] = dout[ft + j] * f[ft + j];
          }
          break;
        case Merge::kAve:
          if (dout == nullptr) break;
          for (int64_t j = 0; j < u; ++j) df[ft + j] = db[bt + j] = dout[ft + j] / 2.0f;
          break;
      }
    }
  }
  auto gradients = [&](const DirectionTensors& outputs, float* d_output, bool backward) {
    DirectionTensors d;
    d.count = outputs.count;
    d.refs[0] = {d_output, DType::kF32, outputs.refs[0].dims};
    for (int64_t s = 0; s < states_; ++s) d.refs[1 + size_t(s)] = dy[first_state(backward) + size_t(s)];
    return d;
  };
  const DirectionTensors dfy = gradients(fy, df, false);
  const DirectionTensors dby = gradients(by, db, true);
  forward_->backward(ctx, x, fy.span(), dfy.span(), dx, write);
  float* dx0 = dx.empty() ? nullptr : dx[0].f32();
  if (dx0 == nullptr) {
    backward_->backward(ctx, x, by.span(), dby.span(), dx, write);
    return;
  }
  // The backward direction's input gradient adds to the forward's.
  const int64_t n = x[0].num_elements();
  const TensorRef dxb{dx_backward_.ensure(n), DType::kF32, x[0].dims};
  backward_->backward(ctx, x, by.span(), dby.span(), std::span<const TensorRef>(&dxb, 1), write);
  const float* add = dxb.f32();
  for (int64_t i = 0; i < n; ++i) dx0[i] += add[i];
}

std::vector<LayerState> Bidirectional::save_state() const {
  std::vector<LayerState> state;
  for (const auto& [prefix, direction] : {std::pair{"forward/", forward_.get()},
                                          std::pair{"backward/", backward_.get()}}) {
    if (direction == nullptr) continue;
    for (LayerState s : direction->save_state()) {
      s.key = prefix + s.key;
      state.push_back(std::move(s));
    }
  }
  return state;
}

void Bidirectional::load_state(std::span<const LayerState> state) {
  const size_t n = forward_->save_state().size();
  KEEL_CHECK(state.size() == 2 * n, "layer '", name(),
             "' (Bidirectional): load_state expects ", 2 * n, " entries, got ", state.size());
  auto strip = [&](std::span<const LayerState> part, std::string_view prefix) {
    std::vector<LayerState> out;
    for (LayerState s : part) {
      KEEL_CHECK(s.key.starts_with(prefix), "layer '", name(), "' (Bidirectional): state '",
                 s.key, "' is not the ", prefix, " direction's");
      s.key = s.key.substr(prefix.size());
      out.push_back(std::move(s));
    }
    return out;
  };
  forward_->load_state(strip(state.subspan(0, n), "forward/"));
  backward_->load_state(strip(state.subspan(n), "backward/"));
}

nlohmann::json Bidirectional::get_config() const {
  nlohmann::json config = base_config();
  config["layer"] = {{"class_name", layer_->class_name()}, {"config", layer_->get_config()}};
  config["merge_mode"] = options_.merge_mode ? nlohmann::json(*options_.merge_mode) : nullptr;
  return config;
}

std::unique_ptr<Layer> Bidirectional::from_config(const nlohmann::json& config) {
  namespace lc = layer_config;
  const auto base = lc::parse_base(config, "Bidirectional", {"layer", "merge_mode"},
                                   {"backward_layer", "weights"});
  KEEL_CHECK(config.contains("layer") && config["layer"].is_object() &&
                 config["layer"].contains("class_name") && config["layer"].contains("config"),
             "Bidirectional: config has no 'layer' {\"class_name\": ..., \"config\": {...}}");
  const nlohmann::json& inner = config["layer"];
  const std::string cls = inner["class_name"].is_string() ? inner["class_name"].get<std::string>()
                                                          : inner["class_name"].dump();
  std::unique_ptr<Layer> layer;
  if (cls == "SimpleRNN") {
    layer = SimpleRNN::from_config(inner["config"]);
  } else if (cls == "LSTM") {
    layer = LSTM::from_config(inner["config"]);
  } else if (cls == "GRU") {
    layer = GRU::from_config(inner["config"]);
  } else {
    KEEL_FAIL("Bidirectional: 'layer' class '", cls,
              "' is not supported; keel wraps SimpleRNN, LSTM or GRU");
  }
  BidirectionalOptions o;
  if (config.contains("merge_mode") && config["merge_mode"].is_null()) {
    o.merge_mode = std::nullopt;
  } else {
    o.merge_mode = lc::get_string(config, "Bidirectional", "merge_mode", "concat");
  }
  o.input_shape = base.input_shape;
  o.name = base.name;
  o.trainable = base.trainable;
  return std::make_unique<Bidirectional>(
      std::unique_ptr<Recurrent>(static_cast<Recurrent*>(layer.release())), std::move(o));
}

}  // namespace keel
