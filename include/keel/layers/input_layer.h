// InputLayer and keel::Input: the entry points of a functional model (Keras keras.Input).
//
//   keel::KerasTensor x = keel::Input({28, 28}, {.name = "pixels"});
//
// The layer has no variables and never runs: the model's plan hands the caller's data to its
// consumers. Default names are one-based as in Keras: input_1, input_2, ...
#pragma once

#include <string>
#include <vector>

#include "keel/layers/keras_tensor.h"
#include "keel/layers/layer.h"

namespace keel {

struct InputOptions {
  std::string name{};
};

class InputLayer : public Layer {
 public:
  // `shape` excludes the batch dimension, as keras.Input(shape=...).
  explicit InputLayer(std::vector<int64_t> shape, InputOptions options = {});

  std::string class_name() const override { return "InputLayer"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<InputLayer>(*this); }
  int num_inputs() const override { return 0; }
  std::vector<Shape> compute_output_shapes(std::span<const Shape>) const override;
  void forward(const Context&, std::span<const TensorRef>, std::span<const TensorRef>) override;
  void backward(const Context&, std::span<const TensorRef>, std::span<const TensorRef>,
                std::span<const TensorRef>, std::span<const TensorRef>, Write) override;
  nlohmann::json get_config() const override;

 private:
  std::vector<int64_t> shape_;
};

KerasTensor Input(std::vector<int64_t> shape, InputOptions options = {});

}  // namespace keel
