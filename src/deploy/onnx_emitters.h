// ONNX emitters: what each layer class becomes in an ONNX graph, looked up by the layer's exact
// class (a registry, not a dynamic_cast chain). A layer class without an entry cannot be exported;
// a subclass of a registered layer has its own behaviour and needs its own entry.
#pragma once

#include <string>
#include <vector>

#include "keel/core/shape.h"
#include "keel/kernels/activation_kind.h"
#include "keel/layers/layer.h"
#include "onnx_graph.h"

namespace keel::onnx {

// One call of a layer as the exporter sees it.
struct OnnxCall {
  const Layer& layer;
  std::string prefix;  // names its nodes: the layer name, "<name>/call_<k>" for call k > 0
  std::vector<std::string> inputs;  // ONNX tensor names, one per layer input
  std::vector<Shape> input_shapes;  // Keras shapes of those inputs
};

// Emits the nodes of one call into `g`; returns the ONNX tensor name of each layer output (an
// input's name where the layer is the identity in inference: Dropout).
using OnnxEmitter = std::vector<std::string> (*)(OnnxGraph& g, const OnnxCall& call);

// Emits f(x) for a Keras activation; returns the output tensor (x itself for linear).
std::string emit_activation(OnnxGraph& g, ActivationKind kind, const std::string& x,
                            const std::string& prefix);

// The emitter registered for the layer's class, or nullptr.
OnnxEmitter find_onnx_emitter(const Layer& layer);

}  // namespace keel::onnx
