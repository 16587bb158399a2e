// ONNX emitters of the sequence layers (onnx_recurrent.h). ONNX RNN / LSTM / GRU operator specs
// (opset 7+, unchanged through 13): X (seq, batch, input), W (dirs, G·hidden, input), R (dirs,
// G·hidden, hidden), B (dirs, 2·G·hidden) = [Wb, Rb]; outputs Y (seq, dirs, batch, hidden), Y_h
// (dirs, batch, hidden) and, for LSTM, Y_c.
#include "onnx_recurrent.h"

#include <algorithm>

#include <limits>

#include "keel/core/error.h"
#include "keel/layers/gru.h"
#include "keel/layers/lstm.h"
#include "keel/layers/simple_rnn.h"

namespace keel::onnx {

namespace {

const char* onnx_op(const Recurrent& r) {
  if (dynamic_cast<const LSTM*>(&r) != nullptr) return "LSTM";
  if (dynamic_cast<const GRU*>(&r) != nullptr) return "GRU";
  return "RNN";
}

// ONNX's gate block k is Keras's block gate_order[k].
std::vector<int64_t> gate_order(const Recurrent& r) {
  if (dynamic_cast<const LSTM*>(&r) != nullptr) return {0, 3, 1, 2};  // [i o f c] <- [i f c o]
  if (dynamic_cast<const GRU*>(&r) != nullptr) return {0, 1, 2};     // [z r h] both
  return {0};
}

// The ONNX RNN activation computing the same function as the Keras one (HardSigmoid's ONNX
// defaults, alpha 0.2 and beta 0.5, are Keras 2's hard_sigmoid; Elu's alpha 1 is Keras's).
std::string onnx_activation(const ActivationFunction& f, const Layer& layer, const char* key) {
  switch (f.kind()) {
    case ActivationKind::kTanh: return "Tanh";
    case ActivationKind::kSigmoid: return "Sigmoid";
    case ActivationKind::kRelu: return "Relu";
    case ActivationKind::kHardSigmoid: return "HardSigmoid";
    case ActivationKind::kElu: return "Elu";
    case ActivationKind::kSoftplus: return "Softplus";
    default: break;
  }
  KEEL_FAIL("ONNX export: layer '", layer.name(), "' (", layer.class_name(), "): ", key, " '",
            f.keras_name(), "' has no ONNX recurrent activation with the same formula (ONNX's "
            "RNN, LSTM and GRU take tanh, sigmoid, relu, hard_sigmoid, elu, softplus)");
}

// The activations attribute of one direction: f (gates), then g (and h) for LSTM and GRU.
std::vector<std::string> direction_activations(const Recurrent& r, const Layer& owner) {
  const std::string act = onnx_activation(r.options().activation, owner, "activation");
  const std::string op = onnx_op(r);
  if (op == "RNN") return {act};
  const std::string gate =
      onnx_activation(r.options().recurrent_activation, owner, "recurrent_activation");
  if (op == "GRU") return {gate, act};
  return {gate, act, act};
}

struct OnnxWeights {
  std::vector<float> w, r, b;
};

// Appends one direction's W, R and B in ONNX's layout.
void append_direction(OnnxWeights& out, const Recurrent& layer) {
  const int64_t u = layer.units();
  const std::vector<int64_t> order = gate_order(layer);
  const auto G = static_cast<int64_t>(order.size());
  const std::vector<Variable>& vars = layer.variables();
  const Variable& kernel = vars[0];
  const Variable& recurrent = vars[1];
  const int64_t F = kernel.shape[0];
  for (int64_t k = 0; k < G; ++k) {
    for (int64_t j = 0; j < u; ++j) {
      const int64_t col = order[size_t(k)] * u + j;
      for (int64_t f = 0; f < F; ++f) out.w.push_back(kernel.value[f * G * u + col]);
    }
  }
  for (int64_t k = 0; k < G; ++k) {
    for (int64_t j = 0; j < u; ++j) {
      const int64_t col = order[size_t(k)] * u + j;
      for (int64_t i = 0; i < u; ++i) out.r.push_back(recurrent.value[i * G * u + col]);
    }
  }
  // [Wb, Rb]: a GRU with reset_after has both rows; every other layer has the input bias only.
  const Variable* bias = layer.options().use_bias ? &vars[2] : nullptr;
  const bool two_rows = bias != nullptr && bias->shape.size() == 2;
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t k = 0; k < G; ++k) {
      for (int64_t j = 0; j < u; ++j) {
        const int64_t col = order[size_t(k)] * u + j;
        float v = 0.0f;
        if (bias != nullptr && row == 0) v = bias->value[col];
        if (two_rows && row == 1) v = bias->value[G * u + col];
        out.b.push_back(v);
      }
    }
  }
}

std::string int64_axes(OnnxGraph& g, const std::string& name, std::vector<int64_t> axes) {
  const auto n = static_cast<int64_t>(axes.size());
  return g.int64_initializer(name, {n}, axes);
}

// x reversed along `axis` (Slice with step -1).
std::string reverse(OnnxGraph& g, const std::string& x, int64_t axis, const std::string& prefix) {
  const std::string starts = int64_axes(g, prefix + "/reverse_starts", {-1});
  const std::string ends =
      int64_axes(g, prefix + "/reverse_ends", {std::numeric_limits<int64_t>::min()});
  const std::string axes = int64_axes(g, prefix + "/reverse_axes", {axis});
  const std::string steps = int64_axes(g, prefix + "/reverse_steps", {-1});
  return g.node("Slice", prefix + "/reverse", {x, starts, ends, axes, steps});
}

std::string squeeze(OnnxGraph& g, const std::string& x, int64_t axis, const std::string& name) {
  return g.node("Squeeze", name, {x, int64_axes(g, name + "_axes", {axis})});
}

// What the ONNX node gives, per direction slot, in Keras's layout: the output ((batch, T, u) or
// (batch, u)) and the final states (batch, u).
struct Directions {
  std::vector<std::string> output;               // per slot
  std::vector<std::vector<std::string>> states;  // per slot: h (, c)
};

// The ONNX node for `slots` (one layer, or Bidirectional's forward and backward copies in ONNX's
// forward / reverse order), with its outputs split per slot into Keras's layout.
Directions emit_node(OnnxGraph& g, const std::vector<const Recurrent*>& slots,
                     const std::string& direction, bool reverse_sequences, const Layer& owner,
                     const OnnxCall& c) {
  const Recurrent& first = *slots[0];
  const int64_t u = first.units();
  const auto dirs = static_cast<int64_t>(slots.size());
  const int64_t G = static_cast<int64_t>(gate_order(first).size());
  const int64_t F = first.variables()[0].shape[0];
  OnnxWeights weights;
  std::vector<std::string> activations;
  for (const Recurrent* r : slots) {
    append_direction(weights, *r);
    const auto a = direction_activations(*r, owner);
    activations.insert(activations.end(), a.begin(), a.end());
  }
  const std::string& p = c.prefix;
  const std::string xt = g.node("Transpose", p + "/time_major", {c.inputs[0]},
                                {{"perm", {}, {}, {}, {1, 0, 2}}});
  std::vector<std::string> inputs{
      xt, g.initializer(p + "/W", {dirs, G * u, F}, weights.w.data()),
      g.initializer(p + "/R", {dirs, G * u, u}, weights.r.data())};
  if (first.options().use_bias)
    inputs.push_back(g.initializer(p + "/B", {dirs, 2 * G * u}, weights.b.data()));
  std::vector<Attribute> attributes{{"hidden_size", {}, u},
                                    {"direction", {}, {}, direction},
                                    {"activations", {}, {}, {}, {}, activations}};
  const std::string op = onnx_op(first);
  if (op == "GRU") {
    const bool reset_after = first.options().reset_after;
    attributes.push_back({"linear_before_reset", {}, reset_after ? 1 : 0});
  }
  std::vector<std::string> more{"Y_h"};
  if (op == "LSTM") more.push_back("Y_c");
  const std::vector<std::string> outs = g.node(op, p + "/" + op, inputs, more, attributes);

  Directions d;
  d.states.resize(slots.size());
  if (first.options().return_sequences) {
    std::string y = outs[0];  // (T, dirs, batch, u)
    if (reverse_sequences) y = reverse(g, y, 0, p);
    y = g.node("Transpose", p + "/batch_major", {y}, {{"perm", {}, {}, {}, {2, 0, 1, 3}}});
    if (dirs == 1) {
      d.output.push_back(squeeze(g, y, 2, p + "/sequence"));
    } else {
      const auto halves = g.node("Split", p + "/split", {y}, {"1"}, {{"axis", {}, 2}});
      for (size_t k = 0; k < 2; ++k)
        d.output.push_back(squeeze(g, halves[k], 2, p + "/sequence_" + std::to_string(k)));
    }
  }
  // Final states per slot (and the last output, which is h, without return_sequences).
  for (size_t s = 1; s < outs.size(); ++s) {
    const std::string what = s == 1 ? "h" : "c";
    std::vector<std::string> parts{outs[s]};
    if (dirs == 2) parts = g.node("Split", p + "/split_" + what, {outs[s]}, {"1"}, {{"axis", {}, 0}});
    for (size_t k = 0; k < parts.size(); ++k) {
      d.states[k].push_back(squeeze(g, parts[k], 0, p + "/" + what + (dirs == 2 ? "_" + std::to_string(k) : "")));
    }
  }
  if (!first.options().return_sequences)
    for (size_t k = 0; k < slots.size(); ++k) d.output.push_back(d.states[k][0]);
  return d;
}

}  // namespace

std::vector<std::string> emit_recurrent(OnnxGraph& g, const Recurrent& layer, const OnnxCall& c) {
  const bool backwards = layer.options().go_backwards;
  Directions d = emit_node(g, {&layer}, backwards ? "reverse" : "forward", backwards, layer, c);
  std::vector<std::string> out{d.output[0]};
  if (layer.options().return_state) out.insert(out.end(), d.states[0].begin(), d.states[0].end());
  return out;
}

std::vector<std::string> emit_bidirectional(OnnxGraph& g, const Bidirectional& layer,
                                            const OnnxCall& c) {
  // ONNX's slot 0 reads forwards, slot 1 backwards. A wrapped go_backwards layer makes the
  // forward copy read backwards: its slots swap, and both sequences come out reversed in time.
  const bool swapped = layer.layer().options().go_backwards;
  const Recurrent* f = &layer.forward_layer();
  const Recurrent* b = &layer.backward_layer();
  Directions d = swapped ? emit_node(g, {b, f}, "bidirectional", true, layer, c)
                         : emit_node(g, {f, b}, "bidirectional", false, layer, c);
  const size_t fs = swapped ? 1 : 0, bs = 1 - fs;
  std::vector<std::string> out;
  const std::string& p = c.prefix;
  const std::optional<std::string>& mode = layer.merge_mode();
  if (!mode) {
    out = {d.output[fs], d.output[bs]};
  } else if (*mode == "concat") {
    out = {g.node("Concat", p, {d.output[fs], d.output[bs]}, {{"axis", {}, -1}})};
  } else if (*mode == "sum") {
    out = {g.node("Add", p, {d.output[fs], d.output[bs]})};
  } else if (*mode == "mul") {
    out = {g.node("Mul", p, {d.output[fs], d.output[bs]})};
  } else {  // ave: (f + b) / 2, as Keras
    const std::string sum = g.node("Add", p + "/sum", {d.output[fs], d.output[bs]});
    out = {g.node("Div", p, {sum, g.scalar(p + "/two", 2.0f)})};
  }
  if (layer.layer().options().return_state) {
    for (size_t slot : {fs, bs}) out.insert(out.end(), d.states[slot].begin(), d.states[slot].end());
  }
  return out;
}

std::vector<std::string> emit_embedding(OnnxGraph& g, const Embedding& layer, const OnnxCall& c) {
  const Variable& table = layer.variables()[0];
  const std::string ids = g.node("Cast", c.prefix + "/ids", {c.inputs[0]}, {{"to", {}, 7}});
  return {g.node("Gather", c.prefix,
                 {g.initializer(without_output_index(table.name), table.shape, table.value), ids},
                 {{"axis", {}, 0}})};
}

std::vector<std::string> emit_layer_normalization(OnnxGraph& g, const LayerNormalization& layer,
                                                  const OnnxCall& c) {
  const std::string& p = c.prefix;
  const std::vector<int64_t>& axes = layer.axes();
  const std::string& x = c.inputs[0];
  const std::string mean = g.node("ReduceMean", p + "/mean", {x}, {{"axes", {}, {}, {}, axes}});
  const std::string centred = g.node("Sub", p + "/centred", {x, mean});
  const std::string square = g.node("Mul", p + "/square", {centred, centred});
  const std::string var = g.node("ReduceMean", p + "/variance", {square}, {{"axes", {}, {}, {}, axes}});
  const auto epsilon = static_cast<float>(layer.options().epsilon);
  const std::string shifted = g.node("Add", p + "/variance_eps", {var, g.scalar(p + "/epsilon", epsilon)});
  const std::string stddev = g.node("Sqrt", p + "/stddev", {shifted});
  std::string y = g.node("Div", p + "/normalized", {centred, stddev});
  // gamma and beta have the normalised axes' shape; as initializers they get a 1 for every other
  // axis after the first normalised one, so that they broadcast (axes [1, 3]: (d1, 1, d3)).
  std::vector<int64_t> dims;
  for (int64_t a = axes.front(); a < c.input_shapes[0].rank(); ++a)
    dims.push_back(std::find(axes.begin(), axes.end(), a) != axes.end() ? c.input_shapes[0][a] : 1);
  if (const Variable* gamma = layer.find_variable("gamma"))
    y = g.node("Mul", p + "/scaled", {y, g.initializer(without_output_index(gamma->name), dims, gamma->value)});
  if (const Variable* beta = layer.find_variable("beta"))
    y = g.node("Add", p + "/shifted", {y, g.initializer(without_output_index(beta->name), dims, beta->value)});
  return {y};
}

}  // namespace keel::onnx
