// ONNX export: wire-format basics and graph contents. The full model is validated by onnx.checker
// and run by ONNX Runtime in tests/interop/interop_test.cpp.
#include "keel/deploy/onnx_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../../src/io/protobuf_wire.h"
#include "interop/trained_models.h"
#include "keel/core/error.h"
#include "keel/layers/layers.h"

namespace keel {
namespace {

bool contains(const std::string& bytes, const std::string& text) {
  return bytes.find(text) != std::string::npos;
}

TEST(OnnxExport, ProtobufWireEncoding) {
  // Closed-form encodings from the protobuf encoding guide.
  protobuf::Writer w;
  w.int64_field(1, 150);  // 08 96 01
  EXPECT_EQ(w.bytes(), std::string("\x08\x96\x01", 3));
  protobuf::Writer neg;
  neg.int64_field(3, -1);  // tag 0x18, then ten bytes: 9 x 0xff, 0x01
  EXPECT_EQ(neg.bytes(), std::string("\x18") + std::string(9, '\xff') + std::string("\x01"));
  protobuf::Writer s;
  s.bytes_field(2, "testing");  // 12 07 74 65 73 74 69 6e 67
  EXPECT_EQ(s.bytes(), std::string("\x12\x07testing", 9));
  protobuf::Writer f;
  f.float_field(2, 1.0f);  // 15 00 00 80 3f
  EXPECT_EQ(f.bytes(), std::string("\x15\x00\x00\x80\x3f", 5));
  protobuf::Writer outer;
  outer.message_field(3, w);  // 1a 03 08 96 01
  EXPECT_EQ(outer.bytes(), std::string("\x1a\x03\x08\x96\x01", 5));
}

TEST(OnnxExport, SeedModelGraphUnfoldedAndFolded) {
  reset_default_names();
  Model m = testing::trained_seed_model("seed-mlp", 1);
  const std::string plain = onnx_model_bytes(m);
  // ModelProto starts with ir_version = 8 (field 1, varint).
  EXPECT_EQ(plain.substr(0, 2), std::string("\x08\x08", 2));
  for (const char* op : {"Flatten", "BatchNormalization", "Gemm", "Elu", "Softmax", "keel",
                         "dense/kernel", "batch_normalization/moving_variance", "batch", "input",
                         "output"}) {
    EXPECT_TRUE(contains(plain, op)) << op;
  }
  const std::string folded = onnx_model_bytes(m, {.fold_bn = true});
  EXPECT_FALSE(contains(folded, "BatchNormalization"));
  EXPECT_TRUE(contains(folded, "Gemm"));
  // Folding drops the BN parameters: 3 x (gamma, beta, mean, var) = (784 + 300 + 100) x 4 floats.
  EXPECT_GT(plain.size(), folded.size() + (784 + 300 + 100) * 4 * 4);
}

TEST(OnnxExport, ActivationsMapToOnnxOps) {
  reset_default_names();
  Sequential m(Dense(4, {.activation = "gelu", .input_shape = {3}}), Activation("swish"),
               Activation("selu"), Activation("leaky_relu"), Activation("softplus"),
               Activation("tanh"), Dropout(0.3), Dense(2, {.activation = "sigmoid"}));
  m.build();
  const std::string bytes = onnx_model_bytes(m);
  for (const char* op : {"Erf", "Sigmoid", "Selu", "LeakyRelu", "Softplus", "Tanh", "Mul"})
    EXPECT_TRUE(contains(bytes, op)) << op;
  EXPECT_FALSE(contains(bytes, "Dropout"));
}

// The attributes of every BatchNormalization node of an exported ModelProto, read back with keel's
// protobuf reader: ModelProto.graph = 7, GraphProto.node = 1, NodeProto.name = 3, op_type = 4,
// attribute = 5, AttributeProto.name = 1, f = 2 (onnx.proto3).
struct BnNode {
  std::string name;
  std::map<std::string, float> attributes;
};

std::vector<BnNode> batch_norm_nodes(const std::string& model_bytes) {
  std::vector<BnNode> found;
  protobuf::Reader model(model_bytes);
  for (protobuf::Field g; model.next(g);) {
    if (g.number != 7 || g.type != protobuf::kBytes) continue;
    protobuf::Reader graph(g.bytes);
    for (protobuf::Field n; graph.next(n);) {
      if (n.number != 1 || n.type != protobuf::kBytes) continue;
      BnNode node;
      std::string op;
      protobuf::Reader fields(n.bytes);
      for (protobuf::Field f; fields.next(f);) {
        if (f.number == 3) node.name = f.bytes;
        if (f.number == 4) op = f.bytes;
        if (f.number != 5) continue;
        std::string name;
        std::optional<float> value;
        protobuf::Reader attribute(f.bytes);
        for (protobuf::Field a; attribute.next(a);) {
          if (a.number == 1) name = a.bytes;
          if (a.number == 2 && a.type == protobuf::kFixed32) {
            float v;
            std::memcpy(&v, a.bytes.data(), 4);
            value = v;
          }
        }
        if (value) node.attributes[name] = *value;
      }
      if (op == "BatchNormalization") found.push_back(node);
    }
  }
  return found;
}

// ONNX's BatchNormalization defaults to epsilon 1e-5; Keras's to 1e-3. The exported node must
// carry the layer's own epsilon (and momentum = Keras momentum, the weight of the running value,
// as ONNX defines it), or ONNX Runtime normalises differently from keel.
TEST(OnnxExport, BatchNormEpsilonAndMomentumAreTheLayers) {
  reset_default_names();
  Model seed = testing::trained_seed_model("seed-mlp", 1);
  const std::vector<BnNode> seed_nodes = batch_norm_nodes(onnx_model_bytes(seed));
  ASSERT_EQ(seed_nodes.size(), 3u);
  for (const BnNode& n : seed_nodes) {
    EXPECT_EQ(n.attributes.at("epsilon"), 1e-3f) << n.name;
    EXPECT_EQ(n.attributes.at("momentum"), 0.99f) << n.name;
  }
  reset_default_names();
  Sequential m(Dense(6, {.input_shape = {4}}),
               BatchNormalization({.momentum = 0.9, .epsilon = 0.02, .name = "bn_a"}),
               Dense(3), BatchNormalization({.epsilon = 1e-6, .name = "bn_b"}));
  m.build();
  const std::vector<BnNode> nodes = batch_norm_nodes(onnx_model_bytes(m));
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_NE(nodes[0].name.find("bn_a"), std::string::npos) << nodes[0].name;
  EXPECT_EQ(nodes[0].attributes.at("epsilon"), 0.02f);
  EXPECT_EQ(nodes[0].attributes.at("momentum"), 0.9f);
  EXPECT_NE(nodes[1].name.find("bn_b"), std::string::npos) << nodes[1].name;
  EXPECT_EQ(nodes[1].attributes.at("epsilon"), 1e-6f);
  EXPECT_EQ(nodes[1].attributes.at("momentum"), 0.99f);
}

// BN over the last axis of any rank exports (channels-first Transposes around ONNX's BN; checked
// by ONNX Runtime in the interop tests); over another axis it is an error naming the layer.
TEST(OnnxExport, BnOverANonLastAxisIsAnErrorNamingTheLayer) {
  reset_default_names();
  Sequential last(BatchNormalization({.input_shape = {4, 5}, .name = "bn_last"}), Flatten(), Dense(2));
  last.build();
  EXPECT_FALSE(onnx_model_bytes(last).empty());
  Sequential m(BatchNormalization({.axis = 1, .input_shape = {4, 5}, .name = "bn3d"}), Flatten(),
               Dense(2));
  m.build();
  try {
    onnx_model_bytes(m, {.fold_bn = true});  // followed by Flatten: cannot fold either
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "'bn3d'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "last (channels) axis")) << e.what();
  }
}

}  // namespace
}  // namespace keel
