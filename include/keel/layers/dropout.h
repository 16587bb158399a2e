// Dropout: inverted dropout in training (keep with probability 1-rate, scale kept values by
// 1/(1-rate), as tf.nn.dropout), identity in inference. rate == 0 is the identity in both modes and
// draws no random numbers.
//
//   keel::Dropout(0.2)                 keel::Dropout(0.2, {.seed = 7})
//
// Randomness: the mask comes from the layer's own Rng. With `seed` it is Rng(seed); without, it is
// derived from the layer's construction order in the process (the n-th Dropout constructed gets
// stream n of a fixed base seed), so a program that builds the same layers draws the same masks.
// set_seed() lets the owner (a model with a global seed) re-seed it.
// Data-parallel training (Context::slice): every rank steps the generator through the whole global
// batch and keeps the draws of its own rows, so each row gets the mask one process would give it
// and the ranks' generators stay in step (they would otherwise hand every rank the same masks).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "keel/core/rng.h"
#include "keel/layers/layer.h"

namespace keel {

struct DropoutOptions {
  std::optional<int64_t> seed{};
  std::vector<int64_t> input_shape{};
  std::string name{};
  bool trainable = true;
};

class Dropout : public UnaryLayer {
 public:
  explicit Dropout(double rate, DropoutOptions options = {});

  std::string class_name() const override { return "Dropout"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(*this); }
  double rate() const { return rate_; }
  void set_seed(uint64_t seed) { rng_ = Rng(seed); }
  Rng& rng() { return rng_; }
  // The generator, so a resumed fit draws the masks an uninterrupted one would.
  std::vector<LayerState> save_state() const override;
  void load_state(std::span<const LayerState> state) override;

  Shape compute_output_shape(const Shape& input_shape) const override;
  // Reads the batch slice of the call, then runs unary_forward.
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void unary_forward(const float* x, float* y, int64_t batch, Mode mode) override;
  void unary_backward(const float* x, const float* y, const float* dy, float* dx, int64_t batch,
                      Write write) override;

  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  double rate_;
  std::optional<int64_t> seed_;
  Rng rng_;
  std::vector<uint8_t> mask_;  // 1 = kept, of the latest training forward
  BatchSlice slice_{};         // of the forward call in progress
};

}  // namespace keel
