// KerasTensor and Node: the symbolic graph of the functional API (Keras functional API).
//
//   keel::KerasTensor x = keel::Input({784});
//   auto h = keel::Dense(64)(x);
//   auto y = keel::Add()({x2, h});
//
// A Node is one call of a layer on symbolic tensors; a KerasTensor is one output of a node. Calling
// a layer builds it for the input shapes at once (shapes and variable specs; Keras creates the
// variables then, keel allocates them when a Model over the graph is built), so shape errors show
// at the call that caused them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "keel/core/shape.h"

namespace keel {

class Layer;
class KerasTensor;

struct Node {
  std::shared_ptr<Layer> layer;
  std::vector<KerasTensor> inputs;  // empty for an InputLayer's node
  std::vector<Shape> output_shapes;
  // Creation order over the process: a model numbers a shared layer's calls by it (Keras
  // node_index counts only the nodes inside the model).
  uint64_t serial = 0;
};

class KerasTensor {
 public:
  KerasTensor() = default;
  KerasTensor(std::shared_ptr<Node> node, int64_t index) : node_(std::move(node)), index_(index) {}

  const Shape& shape() const;
  const std::shared_ptr<Node>& node() const { return node_; }
  int64_t index() const { return index_; }  // which output of the node
  Layer& layer() const;
  bool defined() const { return node_ != nullptr; }
  bool operator==(const KerasTensor& other) const {
    return node_ == other.node_ && index_ == other.index_;
  }

 private:
  std::shared_ptr<Node> node_;
  int64_t index_ = 0;
};

// Every output of the layer call that made `t`, in the layer's order: what Keras's call returns
// for a layer with several outputs.
//   auto outs = keel::all_outputs(keel::LSTM(8, {.return_state = true})(x));  // [y, h_T, c_T]
std::vector<KerasTensor> all_outputs(const KerasTensor& t);

// Calls `layer` on `inputs`: builds it for their shapes (a shared layer must see the same shapes
// again) and records the node. What Layer::operator() does.
KerasTensor call_layer(const std::shared_ptr<Layer>& layer, const std::vector<KerasTensor>& inputs);

}  // namespace keel
