// Fixup's scalar layers (Zhang, Dauphin & Ma 2019, arXiv:1901.09321; keel/model/fixup.h):
//
//   FixupBias:  y = x + bias     one trainable scalar "bias",  initialised to 0
//   FixupScale: y = scale · x    one trainable scalar "scale", initialised to 1
//
// Each scalar is a variable of shape (1,), as the official PyTorch code's nn.Parameter(zeros(1)),
// shared by every element of every sample. Any input shape; the output has the input's shape.
//
// Keras has no such layers: a config containing "FixupBias" or "FixupScale" loads in keel only
// (tf.keras and TF.js reject the class name).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/layers/layer.h"

namespace keel {

struct FixupScalarOptions {
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

// What FixupBias and FixupScale share: y = scale·x + shift where only one of the two is a variable.
class FixupScalarLayer : public UnaryLayer {
 public:
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  std::vector<VariableSpec> variable_specs() const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  nlohmann::json get_config() const override { return base_config(); }

 protected:
  enum class Learns { kShift, kScale };
  FixupScalarLayer(Learns learns, std::string_view default_prefix, FixupScalarOptions options);
  // The base config fields; throws naming `class_name` on any other key.
  static FixupScalarOptions options_from_config(const nlohmann::json& config,
                                                std::string_view class_name);

 private:
  Learns learns_;
};

class FixupBias final : public FixupScalarLayer {
 public:
  explicit FixupBias(FixupScalarOptions options = {});
  std::string class_name() const override { return "FixupBias"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<FixupBias>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

class FixupScale final : public FixupScalarLayer {
 public:
  explicit FixupScale(FixupScalarOptions options = {});
  std::string class_name() const override { return "FixupScale"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<FixupScale>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

}  // namespace keel
