// ZeroPadding2D: zeros around the height and width of an NHWC input, Keras semantics
// (keras-semantics-r2.md §1.5). padding p = ((p, p), (p, p)); (a, b) = ((a, a), (b, b));
// ((top, bottom), (left, right)) as given. No variables.
//
//   keel::ZeroPadding2D()   keel::ZeroPadding2D({.padding = {{1, 2}, {0, 3}}})
#pragma once

#include <array>
#include <memory>
#include <string>

#include "keel/layers/layer.h"
#include "keel/layers/spatial.h"

namespace keel {

struct ZeroPadding2DOptions {
  // ((top, bottom), (left, right))
  std::array<Size2, 2> padding{Size2{1, 1}, Size2{1, 1}};
  std::string data_format = "channels_last";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class ZeroPadding2D : public UnaryLayer {
 public:
  explicit ZeroPadding2D(ZeroPadding2DOptions options = {});
  // Keras's int and (a, b) forms.
  static ZeroPadding2DOptions symmetric(int64_t height, int64_t width);

  std::string class_name() const override { return "ZeroPadding2D"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ZeroPadding2D>(*this); }
  int64_t top() const { return options_.padding[0].h; }
  int64_t bottom() const { return options_.padding[0].w; }
  int64_t left() const { return options_.padding[1].h; }
  int64_t right() const { return options_.padding[1].w; }
  Shape compute_output_shape(const Shape& input_shape) const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  ZeroPadding2DOptions options_;
};

}  // namespace keel
