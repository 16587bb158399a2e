// OnnxGraph (onnx_graph.h). Field numbers are those of onnx/onnx.proto (proto2):
//   GraphProto        node 1, name 2, initializer 5, input 11, output 12
//   NodeProto         input 1, output 2, name 3, op_type 4, attribute 5
//   AttributeProto    name 1, f 2, i 3, s 4, ints 8, strings 9, type 20 (FLOAT = 1, INT = 2,
//                     STRING = 3, INTS = 7, STRINGS = 8)
//   TensorProto       dims 1, data_type 2 (FLOAT = 1, INT64 = 7), name 8, raw_data 9 (little-endian)
//   ValueInfoProto    name 1, type 2;  TypeProto tensor_type 1;  TypeProto.Tensor elem_type 1,
//   shape 2;  TensorShapeProto dim 1;  Dimension dim_value 1, dim_param 2
#include "onnx_graph.h"

#include <string_view>

#include "keel/core/error.h"

namespace keel::onnx {

namespace {
constexpr int64_t kFloat = 1;  // TensorProto.DataType FLOAT
constexpr int64_t kInt64 = 7;  // TensorProto.DataType INT64
}

void OnnxGraph::reserve(const std::string& name) {
  KEEL_CHECK(taken_.insert(name).second, "ONNX export: two graph inputs/outputs are named '", name,
             "'");
}

std::string OnnxGraph::unique(const std::string& wanted) {
  std::string name = wanted;
  for (int k = 1; taken_.count(name); ++k) name = wanted + "_" + std::to_string(k);
  taken_.insert(name);
  return name;
}

std::string OnnxGraph::initializer(const std::string& wanted, const std::vector<int64_t>& dims,
                                   const float* data) {
  const auto key = std::make_pair(wanted, data);
  if (auto it = initializer_names_.find(key); it != initializer_names_.end()) return it->second;
  const std::string name = write_initializer(unique(wanted), dims, data);
  initializer_names_.emplace(key, name);
  return name;
}

// A scalar is never shared: every call gets its own initializer.
std::string OnnxGraph::scalar(const std::string& wanted, float value) {
  return write_initializer(unique(wanted), {}, &value);
}

std::string OnnxGraph::int64_initializer(const std::string& wanted,
                                         const std::vector<int64_t>& dims,
                                         const std::vector<int64_t>& data) {
  const std::string name = unique(wanted);
  protobuf::Writer t;
  for (int64_t d : dims) t.int64_field(1, d);
  t.int64_field(2, kInt64);
  t.bytes_field(8, name);
  t.bytes_field(9, std::string_view(reinterpret_cast<const char*>(data.data()),
                                    data.size() * sizeof(int64_t)));
  initializers_.message_field(5, t);
  return name;
}

std::string OnnxGraph::write_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                         const float* data) {
  protobuf::Writer t;
  for (int64_t d : dims) t.int64_field(1, d);
  t.int64_field(2, kFloat);
  t.bytes_field(8, name);
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  t.bytes_field(9, std::string_view(reinterpret_cast<const char*>(data), n * sizeof(float)));
  initializers_.message_field(5, t);
  return name;
}

std::string OnnxGraph::node(const std::string& op, const std::string& name,
                            std::vector<std::string> inputs, std::vector<Attribute> attributes) {
  const std::string out = unique(name);
  nodes_.push_back({op, out, std::move(inputs), {out}, std::move(attributes)});
  return out;
}

std::vector<std::string> OnnxGraph::node(const std::string& op, const std::string& name,
                                         std::vector<std::string> inputs,
                                         const std::vector<std::string>& more_output_suffixes,
                                         std::vector<Attribute> attributes) {
  std::vector<std::string> outs{unique(name)};
  for (const std::string& suffix : more_output_suffixes) outs.push_back(unique(outs[0] + "/" + suffix));
  nodes_.push_back({op, outs[0], std::move(inputs), outs, std::move(attributes)});
  return outs;
}

void OnnxGraph::rename(const std::string& from, const std::string& to) {
  for (Node& n : nodes_) {
    for (auto& s : n.inputs) s = s == from ? to : s;
    for (auto& s : n.outputs) s = s == from ? to : s;
  }
}

protobuf::Writer OnnxGraph::finish(const std::string& graph_name,
                                   const std::vector<ValueInfo>& inputs,
                                   const std::vector<std::string>& sources,
                                   const std::vector<ValueInfo>& outputs) {
  std::set<std::string> fixed;  // graph inputs and tensors already renamed to an output
  for (const ValueInfo& in : inputs) fixed.insert(in.name);
  std::map<std::string, std::string> renamed;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const std::string& want = outputs[k].name;
    std::string src = sources[k];
    if (auto it = renamed.find(src); it != renamed.end()) src = it->second;
    if (fixed.count(src)) {
      nodes_.push_back({"Identity", want, {src}, {want}, {}});
    } else {
      rename(src, want);
      renamed[src] = want;
      fixed.insert(want);
    }
  }
  protobuf::Writer graph;
  for (const Node& n : nodes_) graph.message_field(1, encode(n));
  graph.bytes_field(2, graph_name);
  graph.append_raw(initializers_);
  for (const ValueInfo& in : inputs) graph.message_field(11, value_info(in));
  for (const ValueInfo& out : outputs) graph.message_field(12, value_info(out));
  return graph;
}

protobuf::Writer OnnxGraph::encode(const Node& n) {
  protobuf::Writer w;
  for (const auto& s : n.inputs) w.bytes_field(1, s);
  for (const auto& s : n.outputs) w.bytes_field(2, s);
  w.bytes_field(3, n.name);
  w.bytes_field(4, n.op);
  for (const Attribute& a : n.attributes) {
    protobuf::Writer attr;
    attr.bytes_field(1, a.name);
    int64_t type = 0;
    if (a.f) {
      attr.float_field(2, *a.f);
      type = 1;
    } else if (a.i) {
      attr.int64_field(3, *a.i);
      type = 2;
    } else if (a.s) {
      attr.bytes_field(4, *a.s);
      type = 3;
    } else if (!a.ints.empty()) {
      for (int64_t v : a.ints) attr.int64_field(8, v);
      type = 7;
    } else {
      for (const auto& v : a.strings) attr.bytes_field(9, v);
      type = 8;
    }
    attr.int64_field(20, type);
    w.message_field(5, attr);
  }
  return w;
}

protobuf::Writer OnnxGraph::value_info(const ValueInfo& v) {
  protobuf::Writer shape;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    protobuf::Writer dim;
    if (k == 0) dim.bytes_field(2, "batch");
    else if (v.dims[k] < 0) dim.bytes_field(2, "dim_" + std::to_string(k));  // None: Embedding's timesteps
    else dim.int64_field(1, v.dims[k]);
    shape.message_field(1, dim);
  }
  protobuf::Writer tensor;
  tensor.int64_field(1, kFloat);
  tensor.message_field(2, shape);
  protobuf::Writer type;
  type.message_field(1, tensor);
  protobuf::Writer info;
  info.bytes_field(1, v.name);
  info.message_field(2, type);
  return info;
}

}  // namespace keel::onnx
