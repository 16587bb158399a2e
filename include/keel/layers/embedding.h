// Embedding: Keras's lookup table from integer ids to vectors.
//
//   keel::Embedding(10000, 64)   // input (batch, T) of ids, output (batch, T, 64)
//
// Variable embedding/embeddings:0 (input_dim, output_dim), initialised "uniform" (Keras:
// RandomUniform(-0.05, 0.05)). keel's inputs are float32: ids are truncated to integers as Keras
// casts them to int32; an id outside [0, input_dim) is a clear error naming the layer and the id
// (tf.gather's error on the CPU). The ids get no gradient (dx is zero); the table's gradient adds
// every looked-up row's dy (a row looked up twice gets both). mask_zero=True (masking) is not
// supported yet: a clear error.
#pragma once

#include <optional>

#include "keel/layers/layer.h"

namespace keel {

struct EmbeddingOptions {
  Initializer embeddings_initializer = "random_uniform";  // Keras "uniform": ±0.05
  bool mask_zero = false;                                 // only false for now
  std::optional<int64_t> input_length{};  // Keras: input_shape = (input_length,)
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Embedding : public UnaryLayer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});

  std::string class_name() const override { return "Embedding"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Embedding>(*this); }
  Shape compute_output_shape(const Shape& input_shape) const override;
  std::vector<VariableSpec> variable_specs() const override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  int64_t id_at(const float* x, int64_t i) const;

  int64_t input_dim_, output_dim_;
  EmbeddingOptions options_;
};

}  // namespace keel
