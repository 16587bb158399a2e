// LayerNormalization: Keras's layer normalization (Ba, Kiros & Hinton 2016), the normalization
// that works in recurrent networks (statistics per example, not per batch, so nothing differs
// between training and inference and nothing depends on the other sequences of the batch).
//
//   y = gamma · (x - mean) / sqrt(var + epsilon) + beta,  mean and the BIASED var per example over
//   `axis` (default -1), gamma and beta of shape [input_shape[a] for a in axis].
//
// Keras defaults: epsilon 1e-3 (PyTorch's and ONNX's is 1e-5), center, scale. Variables in
// Keras's order: gamma then beta. get_config writes `axis` as the built layer's list of positive
// axes ("axis": [2] for a (None, T, D) input), as Keras does after build. Any set of axes but the
// batch: trailing contiguous ones (-1, [-2, -1], ...; Keras's fused path) are rows of the sample as
// it is; others (axis 1 of (None, T, D): per example and feature, over time) are first permuted so
// that the normalised axes come last (kernels/permute.h), then permuted back.
#pragma once

#include <vector>

#include "keel/core/tensor.h"
#include "keel/layers/layer.h"

namespace keel {

struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class LayerNormalization : public UnaryLayer {
 public:
  explicit LayerNormalization(LayerNormalizationOptions options = {});

  std::string class_name() const override { return "LayerNormalization"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<LayerNormalization>(*this);
  }
  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

  const LayerNormalizationOptions& options() const { return options_; }
  // The normalised axes, non-negative and ascending (after build).
  const std::vector<int64_t>& axes() const { return axes_; }

 protected:
  void on_build() override;

 private:
  // The normalised axes as non-negative indices, ascending (checked valid, without duplicates).
  std::vector<int64_t> axes_for(const Shape& input_shape) const;
  // y (batch·rows_per_sample_, width_) = the normalisation of x, row by row.
  void normalize_rows(const float* x, float* y, int64_t rows);
  void backward_rows(const float* x, const float* dy, float* dx, int64_t rows, Write write);
  // Moves a batch between the input's layout and the rows layout (normalised axes last).
  void to_rows(const float* x, float* out, int64_t batch) const;
  void from_rows(const float* rows, float* out, int64_t batch) const;

  LayerNormalizationOptions options_;
  std::vector<int64_t> axes_;  // after build
  int64_t rows_per_sample_ = 1, width_ = 1;  // (rows, width) view of a sample
  std::vector<int> perm_;      // input axes -> rows layout (empty: the axes are trailing already)
  std::vector<int> inverse_perm_;
  ScratchBuffer mean_, rstd_;  // per row, from the latest forward
  ScratchBuffer xt_, yt_, dyt_;  // the rows layout of x, y / dx and dy (permuted axes only)
};

}  // namespace keel
