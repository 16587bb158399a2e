// ONNX export of a model's graph (Sequential or functional) for inference (IR version 8, opset 13
// of the default domain).
//
// Every node of the graph becomes ONNX nodes, emitted per layer class from a registry
// (src/deploy/onnx_emitters.cpp). Graph inputs and outputs: a Sequential's are "input" and
// "output"; a functional model's are named after its InputLayers and after the layers producing
// its outputs (Keras input_names / output_names). The batch is dim_param "batch". Tensor and node
// names are unique: a layer's nodes are named after it ("dense", "dense/relu"; call k > 0 of a
// shared layer "dense/call_k"), weights are initializers named like the variables ("dense/kernel"),
// one per layer however often it is called.
// Mapping: Flatten -> Flatten(axis=1); Dense -> Gemm on rank-2 inputs (MatMul + Add otherwise);
// activations -> Relu, Elu, Selu, LeakyRelu(0.2), Tanh, Sigmoid, Softplus, Softmax(axis=-1),
// gelu -> 0.5·x·(1 + Erf(x/√2)), swish -> x·Sigmoid(x); BatchNormalization -> BatchNormalization
// (inference: moving statistics, Keras epsilon) on rank-2 inputs, or folded into the neighbouring
// Dense layers with fold_bn (keel/deploy/fold_batch_norm.h); Dropout is omitted (identity in
// inference); Add / Subtract / Multiply -> a left-to-right chain of binary Add / Sub / Mul (Keras's
// order of operations), Average -> that Add chain then Div by the input count, Maximum / Minimum ->
// Max / Min, Concatenate -> Concat on the same axis counted with the batch; SimpleRNN / LSTM / GRU
// -> ONNX RNN / LSTM / GRU (Keras's gate order mapped onto ONNX's), Bidirectional -> one
// bidirectional node and its merge, Embedding -> Cast + Gather, LayerNormalization -> its formula
// in elementwise ops (src/deploy/onnx_recurrent.h).
// Accepted by onnx.checker (onnx >= 1.12) and ONNX Runtime; docs/deployment.md.
#pragma once

#include <filesystem>
#include <string>

#include "keel/model/sequential.h"

namespace keel {

struct OnnxOptions {
  bool fold_bn = false;  // fold BN layers first; BN layers that cannot fold are exported as nodes
};

// The serialized ModelProto. Throws keel::Error naming the layer and its class when something
// cannot be expressed: a layer class with no ONNX mapping, BN over a non-channel axis of a rank > 2
// input.
std::string onnx_model_bytes(const Model& model, const OnnxOptions& options = {});

// Writes onnx_model_bytes() to `path` atomically.
void export_onnx(const Model& model, const std::filesystem::path& path,
                 const OnnxOptions& options = {});

}  // namespace keel
