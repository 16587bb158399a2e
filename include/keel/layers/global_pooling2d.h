// GlobalAveragePooling2D and GlobalMaxPooling2D: (None, H, W, C) -> (None, C), or (None, 1, 1, C)
// with keepdims, as Keras. The max's gradient is split equally among tied maxima (TF's
// reduce_max gradient). No variables.
#pragma once

#include <memory>
#include <string>

#include "keel/layers/layer.h"

namespace keel {

struct GlobalPooling2DOptions {
  std::string data_format = "channels_last";
  bool keepdims = false;
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class GlobalPooling2D : public UnaryLayer {
 public:
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  bool keepdims() const { return options_.keepdims; }

 protected:
  GlobalPooling2D(std::string_view prefix, std::string_view cls, GlobalPooling2DOptions options);
  static GlobalPooling2DOptions options_from_config(const nlohmann::json& config,
                                                    std::string_view cls);
  int64_t spatial() const { return input_shape()[1] * input_shape()[2]; }
  int64_t channels() const { return input_shape()[3]; }

 private:
  GlobalPooling2DOptions options_;
};

class GlobalAveragePooling2D : public GlobalPooling2D {
 public:
  explicit GlobalAveragePooling2D(GlobalPooling2DOptions options = {});
  std::string class_name() const override { return "GlobalAveragePooling2D"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<GlobalAveragePooling2D>(*this);
  }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

class GlobalMaxPooling2D : public GlobalPooling2D {
 public:
  explicit GlobalMaxPooling2D(GlobalPooling2DOptions options = {});
  std::string class_name() const override { return "GlobalMaxPooling2D"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<GlobalMaxPooling2D>(*this);
  }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

}  // namespace keel
