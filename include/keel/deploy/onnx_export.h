// ONNX export of a Sequential model for inference (IR version 8, opset 13 of the default domain).
//
// Graph: input "input" (batch, <model input dims>) with the batch as dim_param "batch", output
// "output". Flatten -> Flatten(axis=1); Dense -> Gemm on rank-2 inputs (MatMul + Add otherwise);
// activations -> Relu, Elu, Selu, LeakyRelu(0.2), Tanh, Sigmoid, Softplus, Softmax(axis=-1),
// gelu -> 0.5·x·(1 + Erf(x/√2)), swish -> x·Sigmoid(x); BatchNormalization -> BatchNormalization
// (inference: moving statistics, Keras epsilon) on rank-2 inputs, or folded into the neighbouring
// Dense layers with fold_bn (keel/deploy/fold_batch_norm.h); Dropout is omitted (identity in
// inference). Weights are initializers named like the variables ("dense/kernel").
// Accepted by onnx.checker (onnx >= 1.12) and ONNX Runtime; docs/deployment.md.
#pragma once

#include <filesystem>
#include <string>

#include "keel/model/sequential.h"

namespace keel {

struct OnnxOptions {
  bool fold_bn = false;  // fold BN layers first; BN layers that cannot fold are exported as nodes
};

// The serialized ModelProto. Throws keel::Error naming the layer when something cannot be
// expressed (BN over a non-channel axis of a rank > 2 input).
std::string onnx_model_bytes(const Model& model, const OnnxOptions& options = {});

// Writes onnx_model_bytes() to `path` atomically.
void export_onnx(const Model& model, const std::filesystem::path& path,
                 const OnnxOptions& options = {});

}  // namespace keel
