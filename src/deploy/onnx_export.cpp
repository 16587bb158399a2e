// ONNX export (keel/deploy/onnx_export.h). Field numbers are those of onnx/onnx.proto (proto2):
//   ModelProto        ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8
//   OperatorSetIdProto domain 1, version 2
//   GraphProto        node 1, name 2, initializer 5, input 11, output 12
//   NodeProto         input 1, output 2, name 3, op_type 4, attribute 5
//   AttributeProto    name 1, f 2, i 3, type 20 (FLOAT = 1, INT = 2)
//   TensorProto       dims 1, data_type 2 (FLOAT = 1), name 8, raw_data 9 (little-endian)
//   ValueInfoProto    name 1, type 2;  TypeProto tensor_type 1;  TypeProto.Tensor elem_type 1,
//   shape 2;  TensorShapeProto dim 1;  Dimension dim_value 1, dim_param 2
#include "keel/deploy/onnx_export.h"

#include <cmath>
#include <optional>
#include <vector>

#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/kernels/activations.h"
#include "keel/layers/layers.h"
#include "keel/deploy/fold_batch_norm.h"
#include "../io/protobuf_wire.h"  // the io module's protobuf encoder, shared with event files

namespace keel {

namespace {

using protobuf::Writer;

constexpr int64_t kIrVersion = 8;
constexpr int64_t kOpset = 13;
constexpr int64_t kFloat = 1;  // TensorProto.DataType FLOAT

struct Attribute {
  std::string name;
  std::optional<float> f;
  std::optional<int64_t> i;
};

struct Node {
  std::string op, name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

class GraphBuilder {
 public:
  // Adds a float initializer; returns its name.
  std::string initializer(const std::string& name, const std::vector<int64_t>& dims,
                          const float* data) {
    Writer t;
    for (int64_t d : dims) t.int64_field(1, d);
    t.int64_field(2, kFloat);
    t.bytes_field(8, name);
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    t.bytes_field(9, std::string_view(reinterpret_cast<const char*>(data),
                                      static_cast<size_t>(n) * sizeof(float)));
    graph_.message_field(5, t);
    return name;
  }
  std::string scalar(const std::string& name, float value) { return initializer(name, {}, &value); }

  // Appends a node with one output "<name>" and returns that output's name.
  std::string node(std::string op, std::string name, std::vector<std::string> inputs,
                   std::vector<Attribute> attributes = {}) {
    nodes_.push_back({std::move(op), name, std::move(inputs), {name}, std::move(attributes)});
    return name;
  }

  // Serializes the graph; the tensor `result` becomes the graph output "output".
  Writer finish(const std::string& graph_name, const std::vector<int64_t>& input_dims,
                std::string result, const std::vector<int64_t>& output_dims) {
    if (result == "input") result = node("Identity", "identity", {"input"});
    for (Node& n : nodes_) {
      for (auto& s : n.inputs) s = s == result ? "output" : s;
      for (auto& s : n.outputs) s = s == result ? "output" : s;
    }
    Writer graph;
    for (const Node& n : nodes_) graph.message_field(1, encode(n));
    graph.bytes_field(2, graph_name);
    graph.append_raw(graph_);  // initializers (field 5)
    graph.message_field(11, value_info("input", input_dims));
    graph.message_field(12, value_info("output", output_dims));
    return graph;
  }

 private:
  static Writer encode(const Node& n) {
    Writer w;
    for (const auto& s : n.inputs) w.bytes_field(1, s);
    for (const auto& s : n.outputs) w.bytes_field(2, s);
    w.bytes_field(3, n.name);
    w.bytes_field(4, n.op);
    for (const Attribute& a : n.attributes) {
      Writer attr;
      attr.bytes_field(1, a.name);
      if (a.f) attr.float_field(2, *a.f);
      if (a.i) attr.int64_field(3, *a.i);
      attr.int64_field(20, a.f ? 1 : 2);
      w.message_field(5, attr);
    }
    return w;
  }

  // dims[0] is the batch (dynamic: dim_param "batch").
  static Writer value_info(const std::string& name, const std::vector<int64_t>& dims) {
    Writer shape;
    for (size_t k = 0; k < dims.size(); ++k) {
      Writer dim;
      if (k == 0) dim.bytes_field(2, "batch");
      else dim.int64_field(1, dims[k]);
      shape.message_field(1, dim);
    }
    Writer tensor;
    tensor.int64_field(1, kFloat);
    tensor.message_field(2, shape);
    Writer type;
    type.message_field(1, tensor);
    Writer info;
    info.bytes_field(1, name);
    info.message_field(2, type);
    return info;
  }

  Writer graph_;  // initializers, in order
  std::vector<Node> nodes_;
};

const Variable* find_variable(const Layer& layer, const std::string& short_name) {
  const std::string full = layer.name() + "/" + short_name + ":0";
  for (const Variable& v : layer.variables())
    if (v.name == full) return &v;
  return nullptr;
}

std::string strip_index(const std::string& name) {
  return name.ends_with(":0") ? name.substr(0, name.size() - 2) : name;
}

// Emits f(x) for a Keras activation; returns the output tensor (x itself for linear).
std::string emit_activation(GraphBuilder& g, ActivationKind kind, const std::string& x,
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

std::string emit_dense(GraphBuilder& g, const Dense& dense, const std::string& x, int64_t rank) {
  const std::string& name = dense.name();
  const Variable* kernel = find_variable(dense, "kernel");
  const Variable* bias = find_variable(dense, "bias");
  const std::string k = g.initializer(strip_index(kernel->name), kernel->shape, kernel->value);
  std::string z;
  if (rank == 2) {
    std::vector<std::string> inputs{x, k};
    if (bias) inputs.push_back(g.initializer(strip_index(bias->name), bias->shape, bias->value));
    z = g.node("Gemm", name, inputs);
  } else {
    z = g.node("MatMul", name + "/matmul", {x, k});
    if (bias) {
      const std::string b = g.initializer(strip_index(bias->name), bias->shape, bias->value);
      z = g.node("Add", name, {z, b});
    }
  }
  return emit_activation(g, dense.activation().kind(), z, name);
}

std::string emit_batch_norm(GraphBuilder& g, const BatchNormalization& bn, const std::string& x) {
  const int64_t rank = bn.input_shape().rank();
  KEEL_CHECK(rank == 2 && bn.axis() == 1, "ONNX export: layer '", bn.name(),
             "' (BatchNormalization) normalizes axis ", bn.axis(), " of a rank-", rank,
             " input; ONNX BatchNormalization needs (batch, channels) here. Export with --fold-bn "
             "or put the BN after a Flatten");
  const Variable* mean = find_variable(bn, "moving_mean");
  const Variable* var = find_variable(bn, "moving_variance");
  const int64_t c = mean->size();
  auto param = [&](const char* short_name, float fallback) {
    if (const Variable* v = find_variable(bn, short_name))
      return g.initializer(strip_index(v->name), v->shape, v->value);
    const std::vector<float> filled(static_cast<size_t>(c), fallback);
    return g.initializer(bn.name() + "/" + short_name, {c}, filled.data());
  };
  const std::string scale = param("gamma", 1.0f);
  const std::string b = param("beta", 0.0f);
  const std::string m = g.initializer(strip_index(mean->name), mean->shape, mean->value);
  const std::string v = g.initializer(strip_index(var->name), var->shape, var->value);
  return g.node("BatchNormalization", bn.name(), {x, scale, b, m, v},
                {{"epsilon", static_cast<float>(bn.options().epsilon), {}},
                 {"momentum", static_cast<float>(bn.options().momentum), {}}});
}

std::string encode_model(const Model& model) {
  KEEL_CHECK(model.built(), "ONNX export: model '", model.name(), "' is not built");
  GraphBuilder g;
  std::string x = "input";
  for (int64_t i = 0; i < model.num_layers(); ++i) {
    const Layer& layer = model.layer(i);
    const int64_t rank = layer.input_shape().rank();
    if (const auto* dense = dynamic_cast<const Dense*>(&layer)) {
      x = emit_dense(g, *dense, x, rank);
    } else if (const auto* act = dynamic_cast<const Activation*>(&layer)) {
      x = emit_activation(g, act->activation().kind(), x, layer.name());
    } else if (const auto* bn = dynamic_cast<const BatchNormalization*>(&layer)) {
      x = emit_batch_norm(g, *bn, x);
    } else if (dynamic_cast<const Flatten*>(&layer)) {
      if (rank != 2) x = g.node("Flatten", layer.name(), {x}, {{"axis", {}, 1}});
    } else if (dynamic_cast<const Dropout*>(&layer)) {
      // Identity in inference.
    } else {
      KEEL_FAIL("ONNX export: layer '", layer.name(), "' (", layer.class_name(),
                ") has no ONNX mapping");
    }
  }
  Writer graph = g.finish(model.name(), model.input_shape().dims(), x, model.output_shape().dims());
  Writer opset;
  opset.bytes_field(1, "");
  opset.int64_field(2, kOpset);
  Writer out;
  out.int64_field(1, kIrVersion);
  out.bytes_field(2, "keel");
  out.bytes_field(3, "0.1.0");
  out.message_field(7, graph);
  out.message_field(8, opset);
  return out.bytes();
}

}  // namespace

std::string onnx_model_bytes(const Model& model, const OnnxOptions& options) {
  if (!options.fold_bn) return encode_model(model);
  return encode_model(fold_batch_norm(model).model);
}

void export_onnx(const Model& model, const std::filesystem::path& path,
                 const OnnxOptions& options) {
  write_file_atomically(path, onnx_model_bytes(model, options));
}

}  // namespace keel
