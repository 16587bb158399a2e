// ONNX export of functional graphs, without a runtime: graph input/output names, merge ops, and
// errors that name the layer and its class. ONNX Runtime runs these graphs in
// tests/interop/interop_test.cpp (OnnxInterop.FunctionalGraphsAgreeWithKeel).
#include <gtest/gtest.h>

#include "graph_models.h"
#include "keel/core/error.h"
#include "keel/deploy/onnx_export.h"

namespace keel {
namespace {

using namespace graph_test;

bool contains(const std::string& bytes, const std::string& text) {
  return bytes.find(text) != std::string::npos;
}

// A layer keel's exporter knows nothing about.
class Doubler : public UnaryLayer {
 public:
  explicit Doubler(std::string name) : UnaryLayer("doubler", std::move(name), {}) {}
  std::string class_name() const override { return "Doubler"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Doubler>(*this); }
  Shape compute_output_shape(const Shape& s) const override { return s; }
  void unary_forward(const float* x, float* y, int64_t batch, Mode) override {
    for (int64_t i = 0; i < batch * input_shape().sample_size(); ++i) y[i] = 2 * x[i];
  }
  void unary_backward(const float*, const float*, const float*, float*, int64_t, Write) override {}
  nlohmann::json get_config() const override { return base_config(); }
};

// A subclass of a layer the exporter knows is not exported as its base: it may compute anything.
class ScaledDense : public Dense {
 public:
  using Dense::Dense;
  std::string class_name() const override { return "ScaledDense"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ScaledDense>(*this); }
};

TEST(OnnxExportGraph, UnknownLayerClassIsAnErrorNamingLayerAndClass) {
  reset_default_names();
  KerasTensor x = Input({4});
  Model a(x, Add()({x, Doubler("twice")(Dense(4)(x))}));
  try {
    onnx_model_bytes(a);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "layer 'twice' (Doubler) has no ONNX mapping")) << e.what();
  }
  KerasTensor y = Input({4});
  Model b(y, ScaledDense(3, {.name = "scaled"})(y));
  EXPECT_THROW(onnx_model_bytes(b), Error);
}

// A recurrent activation without an ONNX RNN activation of the same formula is refused by name.
TEST(OnnxExportGraph, RecurrentActivationWithoutOnnxEquivalentIsAClearError) {
  reset_default_names();
  Sequential m(Bidirectional(GRU(3, {.activation = "linear"}), {.input_shape = {4, 2}}));
  m.build();
  try {
    onnx_model_bytes(m);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "layer 'bidirectional' (Bidirectional): activation 'linear'"))
        << e.what();
  }
}

TEST(OnnxExportGraph, InputsOutputsAndMergeOps) {
  reset_default_names();
  Model concat = two_input_concat();
  const std::string c = onnx_model_bytes(concat);
  for (const char* name : {"input_1", "input_2", "Concat", "dense_2"}) EXPECT_TRUE(contains(c, name)) << name;
  EXPECT_FALSE(contains(c, "output")) << "a functional model's output takes its layer's name";

  reset_default_names();
  Model zoo = merge_zoo_shared();
  const std::string z = onnx_model_bytes(zoo);
  // The shared Dense's second call, the partial sums of the three-input Add and Average, the
  // Average's division.
  for (const char* name : {"dense/call_1", "add/partial_1", "average/partial_2", "average/count",
                           "Sub", "Mul", "Div", "Max", "Min", "subtract"})
    EXPECT_TRUE(contains(z, name)) << name;
}

TEST(OnnxExportGraph, FoldBnOnAGraphDropsTheFoldedBnNodes) {
  reset_default_names();
  Model m = residual_mlp_bn(20, 12);
  randomize_batch_norm(m, 2);
  EXPECT_TRUE(contains(onnx_model_bytes(m), "BatchNormalization"));
  EXPECT_FALSE(contains(onnx_model_bytes(m, {.fold_bn = true}), "BatchNormalization"));
}

}  // namespace
}  // namespace keel
