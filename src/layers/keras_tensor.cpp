#include "keel/layers/keras_tensor.h"

#include <atomic>

#include "keel/core/error.h"
#include "keel/layers/layer.h"

namespace keel {

const Shape& KerasTensor::shape() const {
  KEEL_CHECK(node_ != nullptr, "an empty KerasTensor has no shape; use keel::Input(...) or a "
             "layer's output");
  return node_->output_shapes[static_cast<size_t>(index_)];
}

Layer& KerasTensor::layer() const {
  KEEL_CHECK(node_ != nullptr, "an empty KerasTensor has no layer");
  return *node_->layer;
}

std::vector<KerasTensor> all_outputs(const KerasTensor& t) {
  KEEL_CHECK(t.defined(), "all_outputs: an empty KerasTensor");
  std::vector<KerasTensor> out;
  for (size_t i = 0; i < t.node()->output_shapes.size(); ++i) {
    out.emplace_back(t.node(), static_cast<int64_t>(i));
  }
  return out;
}

KerasTensor call_layer(const std::shared_ptr<Layer>& layer, const std::vector<KerasTensor>& inputs) {
  layer->ensure_name();
  std::vector<Shape> shapes;
  for (const KerasTensor& t : inputs) {
    KEEL_CHECK(t.defined(), "layer '", layer->name(), "' called on an empty KerasTensor");
    shapes.push_back(t.shape());
  }
  // Weights are shared, so later calls must fit the variables the first call declared.
  if (layer->built()) {
    KEEL_CHECK(shapes == layer->input_shapes(), "layer '", layer->name(), "' (",
               layer->class_name(), ") was built for input shape ",
               layer->input_shape().to_string(), " and is now called on ",
               shapes.front().to_string(), "; a shared layer must see the same shapes");
  } else {
    layer->build(shapes);
  }
  auto node = std::make_shared<Node>();
  node->layer = layer;
  node->inputs = inputs;
  node->output_shapes = layer->output_shapes();
  static std::atomic<uint64_t> next_serial{0};
  node->serial = next_serial++;
  return KerasTensor(std::move(node), 0);
}

}  // namespace keel
