// Flatten: (None, d1, ..., dk) -> (None, d1·...·dk). No variables; channels_last only.
#pragma once

#include <memory>

#include "keel/layers/layer.h"

namespace keel {

struct FlattenOptions {
  std::string data_format = "channels_last";  // the only supported value
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Flatten : public UnaryLayer {
 public:
  explicit Flatten(FlattenOptions options = {});

  std::string class_name() const override { return "Flatten"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(*this); }
  Shape compute_output_shape(const Shape& input_shape) const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  bool is_pure_reshape() const override { return true; }
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

}  // namespace keel
