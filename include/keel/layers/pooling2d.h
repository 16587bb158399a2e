// MaxPooling2D and AveragePooling2D over NHWC inputs, Keras / TensorFlow semantics
// (keras-semantics-r2.md §1.4): strides default to pool_size; 'same' places the windows by TF's
// padding rule (the odd cell after); padded cells never win a max and are left out of an
// average's divisor. No variables.
//
//   keel::MaxPooling2D()        keel::AveragePooling2D({.pool_size = 3, .strides = 1, .padding = "same"})
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/kernels/pool.h"
#include "keel/layers/layer.h"
#include "keel/layers/spatial.h"

namespace keel {

struct Pooling2DOptions {
  Size2 pool_size = 2;
  std::optional<Size2> strides{};  // Keras None: pool_size
  std::string padding = "valid";
  std::string data_format = "channels_last";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

// The shared part; MaxPooling2D and AveragePooling2D differ only in the kernels they call.
class Pooling2D : public UnaryLayer {
 public:
  const Pooling2DOptions& options() const { return options_; }
  Size2 strides() const { return options_.strides.value_or(options_.pool_size); }
  bool same_padding() const { return same_; }
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

 protected:
  Pooling2D(std::string_view prefix, std::string_view cls, Pooling2DOptions options);
  static Pooling2DOptions options_from_config(const nlohmann::json& config, std::string_view cls);
  void on_build() override;
  const Pool2dGeometry& geometry() const { return g_; }  // batch 0; valid after build
  Pool2dGeometry at(int64_t batch) const {
    Pool2dGeometry g = g_;
    g.batch = batch;
    return g;
  }

 private:
  Pooling2DOptions options_;
  bool same_ = false;
  Pool2dGeometry g_;
};

class MaxPooling2D : public Pooling2D {
 public:
  explicit MaxPooling2D(Pooling2DOptions options = {});
  std::string class_name() const override { return "MaxPooling2D"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<MaxPooling2D>(*this); }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
  const Pool2dGeometry* fusable_max_pool() const override;

 private:
  // Each output's winning window cell, recorded by the latest training forward (on input
  // argmax_x_, batch argmax_batch_) so that its backward need not read the input again. A
  // backward for another input (a layer called twice) finds the winners from its x instead.
  std::vector<uint8_t> argmax_;
  const float* argmax_x_ = nullptr;
  int64_t argmax_batch_ = 0;
};

class AveragePooling2D : public Pooling2D {
 public:
  explicit AveragePooling2D(Pooling2DOptions options = {});
  std::string class_name() const override { return "AveragePooling2D"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<AveragePooling2D>(*this);
  }
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);
};

}  // namespace keel
