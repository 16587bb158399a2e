// ONNX export (keel/deploy/onnx_export.h): walks the model's graph in execution order and asks
// each layer class's emitter (onnx_emitters.h) for its nodes. ModelProto field numbers (onnx.proto,
// proto2): ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8;
// OperatorSetIdProto domain 1, version 2.
#include "keel/deploy/onnx_export.h"

#include <cassert>
#include <set>
#include <vector>

#include "keel/core/error.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/io/atomic_file.h"
#include "onnx_emitters.h"
#include "onnx_graph.h"

namespace keel {

namespace {

constexpr int64_t kIrVersion = 8;
constexpr int64_t kOpset = 13;

struct IoNames {
  std::vector<std::string> inputs, outputs;
};

// A Sequential keeps the names its exports always had ("input", "output"). A functional model's
// inputs are named after their InputLayers and its outputs after the layers producing them (Keras
// model.input_names / output_names), made unique ("dense_1" twice: "dense_1", "dense_1_1").
IoNames io_names(const Model& model) {
  if (model.is_sequential()) return {{"input"}, {"output"}};
  IoNames io;
  std::set<std::string> used;
  auto claim = [&](const std::string& wanted) {
    std::string name = wanted;
    for (int k = 1; used.count(name); ++k) name = wanted + "_" + std::to_string(k);
    used.insert(name);
    return name;
  };
  const auto& tensors = model.tensors();
  for (int64_t t : model.input_tensors())
    io.inputs.push_back(claim(tensors[size_t(t)].input_layer->name()));
  for (int64_t t : model.output_tensors()) {
    const GraphTensor& out = tensors[size_t(t)];
    const Layer& producer =
        out.producer < 0 ? *out.input_layer : *model.nodes()[size_t(out.producer)].layer;
    io.outputs.push_back(claim(producer.name()));
  }
  return io;
}

std::string encode_model(const Model& model) {
  KEEL_CHECK(model.built(), "ONNX export: model '", model.name(), "' is not built");
  const IoNames io = io_names(model);
  const auto& tensors = model.tensors();
  onnx::OnnxGraph g;
  for (const auto& names : {io.inputs, io.outputs})
    for (const std::string& name : names) g.reserve(name);
  std::vector<std::string> tensor_name(tensors.size());
  std::vector<onnx::ValueInfo> inputs, outputs;
  for (size_t k = 0; k < io.inputs.size(); ++k) {
    const int64_t t = model.input_tensors()[k];
    tensor_name[size_t(t)] = io.inputs[k];
    inputs.push_back({io.inputs[k], tensors[size_t(t)].shape.dims()});
  }
  for (const GraphNode& node : model.nodes()) {
    const Layer& layer = *node.layer;
    const onnx::OnnxEmitter emit = onnx::find_onnx_emitter(layer);
    KEEL_CHECK(emit, "ONNX export: layer '", layer.name(), "' (", layer.class_name(),
               ") has no ONNX mapping");
    // A shared layer's later calls: "dense/call_1", so every call's node names differ.
    const std::string call_suffix =
        node.node_index == 0 ? "" : "/call_" + std::to_string(node.node_index);
    onnx::OnnxCall call{layer, layer.name() + call_suffix, {}, {}};
    for (int64_t t : node.inputs) {
      call.inputs.push_back(tensor_name[size_t(t)]);
      call.input_shapes.push_back(tensors[size_t(t)].shape);
    }
    const std::vector<std::string> produced = emit(g, call);
    assert(produced.size() == node.outputs.size());
    for (size_t k = 0; k < produced.size(); ++k) tensor_name[size_t(node.outputs[k])] = produced[k];
  }
  std::vector<std::string> sources;
  for (size_t k = 0; k < io.outputs.size(); ++k) {
    const int64_t t = model.output_tensors()[k];
    sources.push_back(tensor_name[size_t(t)]);
    outputs.push_back({io.outputs[k], tensors[size_t(t)].shape.dims()});
  }
  protobuf::Writer graph = g.finish(model.name(), inputs, sources, outputs);
  protobuf::Writer opset;
  opset.bytes_field(1, "");
  opset.int64_field(2, kOpset);
  protobuf::Writer out;
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
