// Reshape: a row-major reshape of each sample to target_shape (without the batch dim), at most one
// entry -1 (inferred, NumPy's rule), as Keras. A pure reshape: the model aliases the output to the
// input, no copy.
//
//   keel::Reshape({28, 28, 1}, {.input_shape = {28, 28}})
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/layers/layer.h"

namespace keel {

struct ReshapeOptions {
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Reshape : public UnaryLayer {
 public:
  explicit Reshape(std::vector<int64_t> target_shape, ReshapeOptions options = {});

  std::string class_name() const override { return "Reshape"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Reshape>(*this); }
  const std::vector<int64_t>& target_shape() const { return target_shape_; }
  Shape compute_output_shape(const Shape& input_shape) const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  bool is_pure_reshape() const override { return true; }
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  std::vector<int64_t> target_shape_;
};

}  // namespace keel
