// ONNX emitters per layer class (onnx_emitters.h), opset 13 of the default domain.
#include "onnx_emitters.h"

#include <typeindex>
#include <unordered_map>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"
#include "keel/layers/layers.h"
#include "onnx_recurrent.h"
#include "onnx_spatial.h"

namespace keel::onnx {

namespace {

// "dense/kernel:0" -> "dense/kernel": initializers are named like the variables.
std::string weight(OnnxGraph& g, const Variable& v) {
  return g.initializer(without_output_index(v.name), v.shape, v.value);
}

// Gemm on (batch, features); MatMul + Add on higher ranks (Dense works on the last axis).
std::vector<std::string> emit_dense(OnnxGraph& g, const Dense& dense, const OnnxCall& c) {
  const Variable* kernel = dense.find_variable("kernel");
  const Variable* bias = dense.find_variable("bias");
  const std::string k = weight(g, *kernel);
  std::string z;
  if (c.input_shapes[0].rank() == 2) {
    std::vector<std::string> inputs{c.inputs[0], k};
    if (bias) inputs.push_back(weight(g, *bias));
    z = g.node("Gemm", c.prefix, inputs);
  } else {
    z = g.node("MatMul", c.prefix + "/matmul", {c.inputs[0], k});
    if (bias) z = g.node("Add", c.prefix, {z, weight(g, *bias)});
  }
  return {emit_activation(g, dense.activation().kind(), z, c.prefix)};
}

std::vector<std::string> emit_activation_layer(OnnxGraph& g, const Activation& a,
                                               const OnnxCall& c) {
  return {emit_activation(g, a.activation().kind(), c.inputs[0], c.prefix)};
}

std::vector<std::string> emit_batch_norm(OnnxGraph& g, const BatchNormalization& bn,
                                         const OnnxCall& c) {
  const int64_t rank = c.input_shapes[0].rank();
  KEEL_CHECK(bn.axis() == rank - 1, "ONNX export: layer '", bn.name(),
             "' (BatchNormalization) normalizes axis ", bn.axis(), " of a rank-", rank,
             " input; keel exports BatchNormalization over the last (channels) axis only. Export "
             "with --fold-bn where it folds");
  const Variable* mean = bn.find_variable("moving_mean");
  const Variable* var = bn.find_variable("moving_variance");
  const int64_t channels = mean->size();
  // center=False / scale=False: ONNX needs scale and B anyway, as ones and zeros.
  auto param = [&](const char* short_name, float fallback) {
    if (const Variable* v = bn.find_variable(short_name)) return weight(g, *v);
    const std::vector<float> filled(static_cast<size_t>(channels), fallback);
    return g.initializer(bn.name() + "/" + short_name, {channels}, filled.data());
  };
  const std::string scale = param("gamma", 1.0f);
  const std::string b = param("beta", 0.0f);
  const std::vector<Attribute> attributes{
      {"epsilon", bn.effective_epsilon(), {}},
      {"momentum", static_cast<float>(bn.options().momentum), {}}};
  const std::vector<std::string> params{scale, b, weight(g, *mean), weight(g, *var)};
  if (rank > 2) {
    return {emit_channels_last_batch_norm(g, c.inputs[0], rank, params, attributes, c.prefix)};
  }
  std::vector<std::string> inputs{c.inputs[0]};
  inputs.insert(inputs.end(), params.begin(), params.end());
  return {g.node("BatchNormalization", c.prefix, inputs, attributes)};
}

std::vector<std::string> emit_flatten(OnnxGraph& g, const Flatten&, const OnnxCall& c) {
  if (c.input_shapes[0].rank() == 2) return {c.inputs[0]};
  return {g.node("Flatten", c.prefix, {c.inputs[0]}, {{"axis", {}, 1}})};
}

// Dropout: the identity in inference.
std::vector<std::string> emit_identity_call(OnnxGraph&, const OnnxCall& c) { return {c.inputs[0]}; }

// Add, Subtract and Multiply fold left to right as Keras does ((a + b) + c), so ONNX Runtime adds
// in keel's order; Average is that sum divided by the count (a division, as keel and Keras);
// Maximum and Minimum do not depend on the order and take all inputs in one node.
std::vector<std::string> emit_merge(OnnxGraph& g, const ElementwiseMerge& m, const OnnxCall& c) {
  const size_t n = c.inputs.size();
  if (m.op() == MergeOp::kMaximum || m.op() == MergeOp::kMinimum)
    return {g.node(m.op() == MergeOp::kMaximum ? "Max" : "Min", c.prefix, c.inputs)};
  const char* op = m.op() == MergeOp::kSubtract   ? "Sub"
                   : m.op() == MergeOp::kMultiply ? "Mul"
                                                  : "Add";
  const bool average = m.op() == MergeOp::kAverage;
  std::string acc = c.inputs[0];
  for (size_t i = 1; i < n; ++i) {
    const bool last = i + 1 == n && !average;
    const std::string name = last ? c.prefix : c.prefix + "/partial_" + std::to_string(i);
    acc = g.node(op, name, {acc, c.inputs[i]});
  }
  if (!average) return {acc};
  return {g.node("Div", c.prefix, {acc, g.scalar(c.prefix + "/count", static_cast<float>(n))})};
}

std::vector<std::string> emit_concatenate(OnnxGraph& g, const Concatenate& cat, const OnnxCall& c) {
  const int64_t rank = c.input_shapes[0].rank();
  const int64_t axis = cat.axis() < 0 ? cat.axis() + rank : cat.axis();
  return {g.node("Concat", c.prefix, c.inputs, {{"axis", {}, axis}})};
}

// The layer is known to be exactly an L (the registry's key), so the downcast is static.
template <class L, std::vector<std::string> (*F)(OnnxGraph&, const L&, const OnnxCall&)>
std::vector<std::string> adapt(OnnxGraph& g, const OnnxCall& c) {
  return F(g, static_cast<const L&>(c.layer), c);
}

const std::unordered_map<std::type_index, OnnxEmitter>& registry() {
  constexpr OnnxEmitter merge = adapt<ElementwiseMerge, emit_merge>;
  static const std::unordered_map<std::type_index, OnnxEmitter> table = {
      {typeid(Dense), adapt<Dense, emit_dense>},
      {typeid(Activation), adapt<Activation, emit_activation_layer>},
      {typeid(BatchNormalization), adapt<BatchNormalization, emit_batch_norm>},
      {typeid(Flatten), adapt<Flatten, emit_flatten>},
      {typeid(Dropout), emit_identity_call},
      {typeid(ElementwiseMerge), merge},
      {typeid(Add), merge},
      {typeid(Subtract), merge},
      {typeid(Multiply), merge},
      {typeid(Average), merge},
      {typeid(Maximum), merge},
      {typeid(Minimum), merge},
      {typeid(Concatenate), adapt<Concatenate, emit_concatenate>},
      {typeid(SimpleRNN), adapt<Recurrent, emit_recurrent>},
      {typeid(LSTM), adapt<Recurrent, emit_recurrent>},
      {typeid(GRU), adapt<Recurrent, emit_recurrent>},
      {typeid(Bidirectional), adapt<Bidirectional, emit_bidirectional>},
      {typeid(Embedding), adapt<Embedding, emit_embedding>},
      {typeid(LayerNormalization), adapt<LayerNormalization, emit_layer_normalization>},
      {typeid(Conv2D), adapt<Conv2D, emit_conv2d>},
      {typeid(DepthwiseConv2D), adapt<DepthwiseConv2D, emit_depthwise_conv2d>},
      {typeid(MaxPooling2D), adapt<MaxPooling2D, emit_max_pooling2d>},
      {typeid(AveragePooling2D), adapt<AveragePooling2D, emit_average_pooling2d>},
      {typeid(GlobalAveragePooling2D),
       adapt<GlobalAveragePooling2D, emit_global_average_pooling2d>},
      {typeid(GlobalMaxPooling2D), adapt<GlobalMaxPooling2D, emit_global_max_pooling2d>},
      {typeid(ZeroPadding2D), adapt<ZeroPadding2D, emit_zero_padding2d>},
      {typeid(Reshape), adapt<Reshape, emit_reshape>},
  };
  return table;
}

}  // namespace

std::string emit_activation(OnnxGraph& g, ActivationKind kind, const std::string& x,
                            const std::string& prefix) {
  switch (kind) {
    case ActivationKind::kLinear: return x;
    case ActivationKind::kRelu: return g.node("Relu", prefix + "/relu", {x});
    case ActivationKind::kElu: return g.node("Elu", prefix + "/elu", {x}, {{"alpha", 1.0f, {}}});
    case ActivationKind::kSelu:
      return g.node("Selu", prefix + "/selu", {x},
                    {{"alpha", kSeluAlpha, {}}, {"gamma", kSeluScale, {}}});
    case ActivationKind::kLeakyRelu:
      return g.node("LeakyRelu", prefix + "/leaky_relu", {x}, {{"alpha", kLeakyReluSlope, {}}});
    case ActivationKind::kTanh: return g.node("Tanh", prefix + "/tanh", {x});
    case ActivationKind::kSigmoid: return g.node("Sigmoid", prefix + "/sigmoid", {x});
    case ActivationKind::kSoftplus: return g.node("Softplus", prefix + "/softplus", {x});
    case ActivationKind::kHardSigmoid:
      return g.node("HardSigmoid", prefix + "/hard_sigmoid", {x},
                    {{"alpha", 0.2f, {}}, {"beta", 0.5f, {}}});
    case ActivationKind::kSoftmax:
      return g.node("Softmax", prefix + "/softmax", {x}, {{"axis", {}, -1}});
    case ActivationKind::kSwish: {
      const std::string s = g.node("Sigmoid", prefix + "/swish_sigmoid", {x});
      return g.node("Mul", prefix + "/swish", {x, s});
    }
    case ActivationKind::kGelu: {
      // Keras gelu(approximate=False): 0.5·x·(1 + erf(x/√2)).
      const std::string c = g.scalar(prefix + "/gelu_rsqrt2", 0.70710678118654752440f);
      const std::string one = g.scalar(prefix + "/gelu_one", 1.0f);
      const std::string half = g.scalar(prefix + "/gelu_half", 0.5f);
      const std::string xs = g.node("Mul", prefix + "/gelu_scaled", {x, c});
      const std::string e = g.node("Erf", prefix + "/gelu_erf", {xs});
      const std::string p = g.node("Add", prefix + "/gelu_plus1", {e, one});
      const std::string xp = g.node("Mul", prefix + "/gelu_xp", {x, p});
      return g.node("Mul", prefix + "/gelu", {xp, half});
    }
  }
  KEEL_FAIL("ONNX export: unknown activation");
}

OnnxEmitter find_onnx_emitter(const Layer& layer) {
  const auto& table = registry();
  const auto it = table.find(std::type_index(typeid(layer)));
  return it == table.end() ? nullptr : it->second;
}

}  // namespace keel::onnx
