#include "keel/layers/input_layer.h"

#include "keel/core/error.h"

namespace keel {

namespace {
std::string input_name(std::string name) {
  return name.empty() ? unique_one_based_name("input") : std::move(name);
}
}  // namespace

InputLayer::InputLayer(std::vector<int64_t> shape, InputOptions options)
    : Layer("input", input_name(std::move(options.name)), {}), shape_(std::move(shape)) {
  for (int64_t d : shape_) {
    KEEL_CHECK(d > 0, "Input '", name(), "': shape dimension ", d,
               " must be positive (the batch dimension is not part of shape)");
  }
  check_input_sample_size(Shape::batched(shape_), "Input '" + name() + "'");
  build(std::span<const Shape>{});
}

std::vector<Shape> InputLayer::compute_output_shapes(std::span<const Shape>) const {
  return {Shape::batched(shape_)};
}

void InputLayer::forward(const Context&, std::span<const TensorRef>, std::span<const TensorRef>) {
  KEEL_FAIL("InputLayer '", name(), "' never runs; the model hands its data to the consumers");
}

void InputLayer::backward(const Context&, std::span<const TensorRef>, std::span<const TensorRef>,
                          std::span<const TensorRef>, std::span<const TensorRef>, Write) {
  KEEL_FAIL("InputLayer '", name(), "' never runs backward");
}

nlohmann::json InputLayer::get_config() const {
  // tf.keras 2.x key order: batch_input_shape, dtype, sparse, ragged, name.
  nlohmann::json config;
  nlohmann::json shape = nlohmann::json::array({nullptr});
  for (int64_t d : shape_) shape.push_back(d);
  config["batch_input_shape"] = shape;
  config["dtype"] = "float32";
  config["sparse"] = false;
  config["ragged"] = false;
  config["name"] = name();
  return config;
}

KerasTensor Input(std::vector<int64_t> shape, InputOptions options) {
  auto layer = std::make_shared<InputLayer>(std::move(shape), std::move(options));
  auto node = std::make_shared<Node>();
  node->layer = layer;
  node->output_shapes = layer->output_shapes();
  return KerasTensor(std::move(node), 0);
}

}  // namespace keel
