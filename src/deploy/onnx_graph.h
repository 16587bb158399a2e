// OnnxGraph: builds an ONNX GraphProto (nodes, initializers, inputs, outputs) for the exporter.
//
// Every name in the graph is unique (ONNX requires it of tensors; keel asks it of node names too):
// the graph's input and output names are reserved first, and a node or initializer whose wanted
// name is taken gets "_1", "_2", ... appended. A shared layer's weights become one initializer:
// asking again for the same name with the same data returns the first one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "../io/protobuf_wire.h"  // the io module's protobuf encoder, shared with event files

namespace keel::onnx {

// One attribute: exactly one of its value fields is set.
struct Attribute {
  std::string name;
  std::optional<float> f;
  std::optional<int64_t> i;
  std::optional<std::string> s{};
  std::vector<int64_t> ints{};
  std::vector<std::string> strings{};
};

// A graph input or output: dims[0] is the batch (dynamic, dim_param "batch").
struct ValueInfo {
  std::string name;
  std::vector<int64_t> dims;
};

class OnnxGraph {
 public:
  // Graph input and output names, reserved so that no node takes them.
  void reserve(const std::string& name);
  // Adds a float initializer (dims empty: a scalar); returns its name.
  std::string initializer(const std::string& name, const std::vector<int64_t>& dims,
                          const float* data);
  std::string scalar(const std::string& name, float value);
  // An int64 initializer (shapes, axes, slice bounds); never shared.
  std::string int64_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& data);
  // Appends a node with one output named like the node; returns that output's name.
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   std::vector<Attribute> attributes = {});
  // A node with several outputs, named `name` and then `name`/<suffix> for each further suffix.
  std::vector<std::string> node(const std::string& op, const std::string& name,
                                std::vector<std::string> inputs,
                                const std::vector<std::string>& more_output_suffixes,
                                std::vector<Attribute> attributes);

  // Serializes the graph. outputs[k] is produced by tensor `sources[k]`: that tensor is renamed
  // to the output's name, or copied by an Identity where it cannot be (a graph input, or a tensor
  // that is already another output).
  protobuf::Writer finish(const std::string& graph_name, const std::vector<ValueInfo>& inputs,
                          const std::vector<std::string>& sources,
                          const std::vector<ValueInfo>& outputs);

 private:
  struct Node {
    std::string op, name;
    std::vector<std::string> inputs, outputs;
    std::vector<Attribute> attributes;
  };
  std::string unique(const std::string& wanted);
  std::string write_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                const float* data);
  void rename(const std::string& from, const std::string& to);
  static protobuf::Writer encode(const Node& n);
  static protobuf::Writer value_info(const ValueInfo& v);

  std::set<std::string> taken_;
  std::map<std::pair<std::string, const float*>, std::string> initializer_names_;  // shared weights
  protobuf::Writer initializers_;                         // field 5 of GraphProto, in order
  std::vector<Node> nodes_;
};

}  // namespace keel::onnx
